// src/vitess: the bridge from gRPC's callback reactor (gRPC threads) to the stream's io_context.
// Each completion goes through a small thread-safe mailbox and is handed to the Asio side on the
// stream's executor. A read is only started after the consumer took the previous message (one
// message read ahead), so a slow consumer stops reading and HTTP/2 flow control slows the server
// down. No threads of our own. Internal to VStream (vstream_client.hpp).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "vitess/stream_status.hpp"
#include "vitess/wire_response.hpp"
#include "vtgate.pb.h"
#include "vtgateservice.grpc.pb.h"

namespace sv::vitess::detail {

namespace asio = boost::asio;

//! One completion handed from a gRPC thread to the stream's executor.
struct Delivery {
  std::optional<WireResponse> message;  //!< a read completed: the response's bytes
  std::optional<grpc::Status> status;   //!< the call is over (OnDone)
};

//! Counts the calls of one client that gRPC has not finished (OnDone not yet run). The client's
//! destructor waits for it: a call dropped while being cancelled still gets callbacks on gRPC's
//! threads, and letting the process exit under them aborted inside gRPC (ref_counted.h).
class CallTracker {
 public:
  void started();
  void finished();
  //! Bounded: a call gRPC never finishes must not hang the process.
  void wait_idle(std::chrono::milliseconds limit);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
};

//! A tiny thread-safe mailbox: gRPC threads push, the Asio side waits until an item is there and
//! takes it. Unlike an asio channel it is not registered with the io_context, so the reactor that
//! owns it may be destroyed on a gRPC thread, even after the io_context is gone (an abandoned
//! stream). The queue holds at most two items (one read-ahead message and the final status).
//!
//! Waiting and taking are separate so that a wait can lose a race (VStream::next() waits for an
//! item or the idle timer) without losing the item: a cancelled wait leaves it queued.
class Mailbox {
 public:
  // Any thread.
  void push(Delivery d) {
    std::unique_ptr<Waiter> w;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(d));
      w = std::move(waiter_);
    }
    if (w) w->complete({});
  }

  // Asio side: the oldest item, if any.
  std::optional<Delivery> try_pop() {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return std::nullopt;
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    return d;
  }

  // Asio side: completes (on `ex`, the stream's executor) once an item is queued, at once when
  // one already is; with operation_aborted when the wait is cancelled first (per-operation
  // cancellation, any type). One wait at a time.
  template <class Token>
  auto async_wait_ready(asio::any_io_executor ex, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, ex](auto handler) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          auto w = std::make_unique<WaiterImpl<decltype(handler)>>(std::move(handler), ex);
          Waiter* waiting = w.get();
          {
            std::lock_guard lock(mu_);
            if (queue_.empty()) {
              waiter_ = std::move(w);
              if (slot.is_connected()) slot.assign([this, waiting](asio::cancellation_type) { cancel(waiting); });
              return;
            }
          }
          w->complete({});
        },
        token);
  }

 private:
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void complete(boost::system::error_code ec) = 0;
  };
  template <class Handler>
  struct WaiterImpl final : Waiter {
    WaiterImpl(Handler h, asio::any_io_executor ex)
        : handler(std::move(h)), work(asio::make_work_guard(ex)) {}  // keeps run() alive
    void complete(boost::system::error_code ec) override {
      // Never run the consumer inline on a gRPC thread: post it to the stream's executor. The
      // work guard travels with it and ends on the Asio thread: ending it here could let run()
      // return and the io_context be destroyed while this thread is still inside it.
      auto ex = work.get_executor();
      asio::post(ex, [h = std::move(handler), ec, w = std::move(work)]() mutable {
        // The cancellation handler (which points at this waiter) must not outlive the wait.
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected()) slot.clear();
        std::move(h)(ec);
      });
    }
    Handler handler;
    asio::executor_work_guard<asio::any_io_executor> work;
  };

  // Asio side (a cancellation slot's handler): ends `waiting` unless a push already took it.
  void cancel(Waiter* waiting) {
    std::unique_ptr<Waiter> w;
    {
      std::lock_guard lock(mu_);
      if (waiter_.get() != waiting) return;
      w = std::move(waiter_);
    }
    w->complete(asio::error::operation_aborted);
  }

  std::mutex mu_;
  std::deque<Delivery> queue_;
  std::unique_ptr<Waiter> waiter_;
};

//! One VStream call: the gRPC reactor, and the Asio-side operations VStream uses on it. It reads
//! raw bytes (grpc::ByteBuffer): each response reaches the engine in wire form, unparsed.
//!
//! Lifetime: shared by the VStream handle and by itself (self_) from start until OnDone, the last
//! reaction, so gRPC never sees a dangling reactor even if the handle goes first.
//!
//! Holds: reads are started from the Asio side (outside reactions), so the call holds one
//! AddHold() from start until either a read fails (the call is over) or the handle closes the
//! stream while no read is in flight. release_hold() runs that RemoveHold() exactly once.
class VStreamCall final : public grpc::ClientReadReactor<grpc::ByteBuffer> {
 public:
  //! A call not yet started: the request, the authorization header, the whole-call deadline
  //! (0 = none); counted by `tracker` until gRPC finishes it.
  VStreamCall(const vtgate::VStreamRequest& request, std::string_view auth_header, std::chrono::milliseconds deadline,
              std::shared_ptr<CallTracker> tracker);

  //! Starts the call of `method` (vtgateservice.Vitess/VStream) on `channel`, with the first read
  //! ahead.
  void start(std::shared_ptr<VStreamCall> self, grpc::ChannelInterface* channel,
             const grpc::internal::RpcMethod& method);

  //! Asio side only, and only while the hold is held (after a successful read, before closing).
  void start_read();

  //! Asio side: stops the call; the first cause wins. `abandon` = the handle is going away and
  //! nobody will receive the end.
  void close(EndCause cause, bool abandon = false);

  bool closing() const { return closing_.load(); }
  EndCause close_cause() const { return close_cause_; }

  //! Asio side: the oldest delivery (a message or the final status), if one arrived.
  std::optional<Delivery> try_pop() { return mailbox_.try_pop(); }

  //! Asio side: completes on `ex` once a delivery is there (Mailbox::async_wait_ready).
  template <class Token>
  auto async_wait_ready(asio::any_io_executor ex, Token&& token) {
    return mailbox_.async_wait_ready(std::move(ex), std::forward<Token>(token));
  }

 private:
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  void release_hold();

  grpc::ClientContext ctx_;
  vtgate::VStreamRequest request_;
  Mailbox mailbox_;
  std::shared_ptr<VStreamCall> self_;
  grpc::ByteBuffer pending_;  //!< the read in flight writes here (gRPC threads only until it completes)
  std::shared_ptr<CallTracker> tracker_;
  std::atomic<bool> in_flight_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> hold_released_{false};
  EndCause close_cause_ = EndCause::server;  // Asio side only
};

}  // namespace sv::vitess::detail
