// src/vitess: the reactor→Asio bridge (see vstream_bridge.hpp).
#include "vitess/vstream_bridge.hpp"

#include "util/tsan.hpp"

namespace sv::vitess::detail {

// ---- CallTracker ------------------------------------------------------------------------------

void CallTracker::started() {
  std::lock_guard lock(mu_);
  ++active_;
}

void CallTracker::finished() {
  std::lock_guard lock(mu_);
  if (--active_ == 0) cv_.notify_all();
}

void CallTracker::wait_idle(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, limit, [&] { return active_ == 0; });
}

// ---- VStreamCall ------------------------------------------------------------------------------

VStreamCall::VStreamCall(const vtgate::VStreamRequest& request, std::string_view auth_header,
                         std::chrono::milliseconds deadline, std::shared_ptr<CallTracker> tracker)
    : request_(request), tracker_(std::move(tracker)) {
  ctx_.AddMetadata("authorization", std::string(auth_header));
  if (deadline.count() > 0) ctx_.set_deadline(std::chrono::system_clock::now() + deadline);
  tracker_->started();
}

void VStreamCall::start(std::shared_ptr<VStreamCall> self, grpc::ChannelInterface* channel,
                        const grpc::internal::RpcMethod& method) {
  self_ = std::move(self);
  // What the generated stub's async()->VStream does, with grpc::ByteBuffer as the response type
  // (grpc's own serialization traits: the message bytes, not parsed).
  // Create constructs gRPC's reader (its callback tags) in the call's arena; gRPC's threads read
  // the tags before any reaction could acquire (util/tsan.hpp, as StartCall below).
  SV_TSAN_IGNORE_BEGIN();
  grpc::internal::ClientCallbackReaderFactory<grpc::ByteBuffer>::Create(channel, method, &ctx_, &request_, this);
  SV_TSAN_IGNORE_END();
  AddHold();
  start_read();  // the first read ahead; later ones after the consumer took a message
  // The reactions start from here (see the comment on OnReadDone).
  SV_TSAN_RELEASE(this);
  // StartCall builds the call's metadata inside libgrpc (strings through our std::string, so
  // TSan records those writes), which gRPC's threads then read in the uninstrumented core, before
  // any reaction could acquire: gRPC's own hand-off, out of TSan's sight (util/tsan.hpp).
  SV_TSAN_IGNORE_BEGIN();
  StartCall();
  SV_TSAN_IGNORE_END();
}

void VStreamCall::start_read() {
  pending_.Clear();
  in_flight_.store(true);
  SV_TSAN_RELEASE(this);
  StartRead(&pending_);
}

void VStreamCall::close(EndCause cause, bool abandon) {
  if (abandon) abandoned_.store(true);
  if (closing_.exchange(true)) return;
  close_cause_ = cause;
  SV_TSAN_RELEASE(this);
  ctx_.TryCancel();
  if (!in_flight_.load()) release_hold();
}

// Each reaction runs on a gRPC thread that gRPC hands the call to through its own queues, which
// ThreadSanitizer cannot see (Debian's gRPC is not instrumented): SV_TSAN_ACQUIRE pairs with the
// SV_TSAN_RELEASE before each call that leads to a reaction (StartCall, StartRead, TryCancel,
// RemoveHold) and at the end of the previous reaction (util/tsan.hpp).
void VStreamCall::OnReadDone(bool ok) {
  SV_TSAN_ACQUIRE(this);
  in_flight_.store(false);
  if (ok && !closing_.load()) {
    Delivery d;
    d.message.emplace(pending_);  // shares the received slices (joined into one if several)
    pending_.Clear();
    SV_TSAN_RELEASE(this);  // before the push: the consumer may start the next read at once
    mailbox_.push(std::move(d));
    return;
  }
  pending_.Clear();
  release_hold();  // a failed read means the call is over: let OnDone come
}

void VStreamCall::OnDone(const grpc::Status& status) {
  SV_TSAN_ACQUIRE(this);
  if (!abandoned_.load()) mailbox_.push(Delivery{std::nullopt, status});
  std::shared_ptr<CallTracker> tracker = std::move(tracker_);
  { auto last = std::move(self_); }  // may destroy *this; nothing touches it after
  if (tracker) tracker->finished();
}

void VStreamCall::release_hold() {
  if (hold_released_.exchange(true)) return;
  SV_TSAN_RELEASE(this);
  RemoveHold();
}

}  // namespace sv::vitess::detail
