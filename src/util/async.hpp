// src/util: small coroutine primitives for Asio coroutines that all run on one io_context thread
// (no locking): a FIFO counting semaphore whose permits are released by RAII, a latch that
// waits for a number of spawned coroutines, and structured cancellation (StopSource: one stop
// request with a reason, StopCallback registrations released by RAII, child scopes).
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace sv::async {

class Slots;

//! One permit of a Slots, held for a scope: released when destroyed (or moved from). Not
//! releasing by hand means no path (early return, exception, cancellation) can leak a permit.
class [[nodiscard]] Permit {
 public:
  Permit() = default;
  explicit Permit(Slots& s) : s_(&s) {}
  Permit(Permit&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Permit& operator=(Permit&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = o.s_;
      o.s_ = nullptr;
    }
    return *this;
  }
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit() { reset(); }
  //! Gives the permit back now (no-op when none is held).
  inline void reset();
  bool held() const { return s_ != nullptr; }

 private:
  Slots* s_ = nullptr;
};

//! FIFO counting semaphore for coroutines on one thread: waiters are served in arrival order, so
//! no waiter starves. At least one slot.
class Slots {
 public:
  Slots(boost::asio::any_io_executor ex, std::size_t n) : ex_(std::move(ex)), free_(std::max<std::size_t>(n, 1)) {}
  Slots(const Slots&) = delete;
  Slots& operator=(const Slots&) = delete;

  //! Waits for a slot; the returned permit holds it.
  boost::asio::awaitable<Permit> acquire() {
    if (free_ > 0 && waiters_.empty()) {
      --free_;
      co_return Permit(*this);
    }
    auto t = std::make_shared<boost::asio::steady_timer>(ex_, Clock::time_point::max());
    waiters_.push_back(t);
    // Woken by release(): the slot passed straight to us.
    co_await t->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return Permit(*this);
  }
  std::size_t free() const { return free_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  friend class Permit;
  using Clock = boost::asio::steady_timer::clock_type;

  void release() {
    if (!waiters_.empty()) {
      auto t = waiters_.front();
      waiters_.pop_front();
      t->cancel();
    } else {
      ++free_;
    }
  }

  boost::asio::any_io_executor ex_;
  std::size_t free_;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

inline void Permit::reset() {
  if (s_) std::exchange(s_, nullptr)->release();
}

//! Waits until a number of spawned coroutines finished: add() before each spawn, done() in its
//! completion handler, then co_await wait().
class Latch {
 public:
  explicit Latch(boost::asio::any_io_executor ex)
      : timer_(std::move(ex), boost::asio::steady_timer::time_point::max()) {}
  void add() { ++pending_; }
  void done() {
    if (--pending_ == 0) timer_.cancel();
  }
  std::size_t pending() const { return pending_; }
  boost::asio::awaitable<void> wait() {
    while (pending_ > 0) co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

 private:
  boost::asio::steady_timer timer_;
  std::size_t pending_ = 0;
};

template <class Reason>
class StopSource;

//! Runs `fn` once when its StopSource is asked to stop, for as long as the callback lives: what a
//! pending operation registers so that a stop cancels it (a VStream, a timer, a peek). Registered
//! after the stop, it runs at once, in the constructor. Destroying it deregisters it, so a
//! callback never runs after the operation it cancels has ended. Not movable: the source links
//! to it by address.
template <class Reason>
class [[nodiscard]] StopCallback {
 public:
  StopCallback(StopSource<Reason>& source, std::function<void()> fn);
  ~StopCallback();
  StopCallback(const StopCallback&) = delete;
  StopCallback& operator=(const StopCallback&) = delete;

 private:
  friend class StopSource<Reason>;
  StopSource<Reason>* source_;
  std::function<void()> fn_;
  StopCallback* prev_ = nullptr;
  StopCallback* next_ = nullptr;
  bool linked_ = false;
};

//! One scope of work that can be asked to stop, once, with a reason (the first request wins;
//! later ones return false). Loops test stop_requested(); pending operations register a
//! StopCallback. A child scope (constructed from a parent) stops with its parent's reason when
//! the parent stops, and can also be stopped alone without touching the parent. Must outlive its
//! callbacks and children.
template <class Reason>
class StopSource {
 public:
  StopSource() = default;
  //! A child scope of `parent`: stopped (with the parent's reason) when the parent is.
  explicit StopSource(StopSource& parent)
      : parent_link_(std::in_place, parent, [this, &parent] { request_stop(*parent.reason_); }) {}
  StopSource(const StopSource&) = delete;
  StopSource& operator=(const StopSource&) = delete;

  //! Stops the scope with `reason` and runs every registered callback once, in registration
  //! order; false when it was already stopped (the first reason stays).
  bool request_stop(Reason reason) {
    if (reason_) return false;
    reason_.emplace(std::move(reason));
    // Unlinked before it runs: a callback may end the operation that owns it, or others.
    while (head_) {
      StopCallback<Reason>* cb = head_;
      unlink(cb);
      cb->fn_();
    }
    return true;
  }
  bool stop_requested() const { return reason_.has_value(); }
  //! The reason of the first request_stop(); only when stop_requested().
  const Reason& reason() const { return *reason_; }
  //! Callbacks registered and not yet run (for tests).
  std::size_t callbacks() const {
    std::size_t n = 0;
    for (auto* cb = head_; cb; cb = cb->next_) ++n;
    return n;
  }

 private:
  friend class StopCallback<Reason>;

  void link(StopCallback<Reason>* cb) {
    cb->prev_ = tail_;
    cb->next_ = nullptr;
    (tail_ ? tail_->next_ : head_) = cb;
    tail_ = cb;
    cb->linked_ = true;
  }
  void unlink(StopCallback<Reason>* cb) {
    (cb->prev_ ? cb->prev_->next_ : head_) = cb->next_;
    (cb->next_ ? cb->next_->prev_ : tail_) = cb->prev_;
    cb->prev_ = cb->next_ = nullptr;
    cb->linked_ = false;
  }

  std::optional<Reason> reason_;
  StopCallback<Reason>* head_ = nullptr;
  StopCallback<Reason>* tail_ = nullptr;
  //! The registration on the parent (child scopes only); destroyed first, so the parent never
  //! calls into a destroyed child.
  std::optional<StopCallback<Reason>> parent_link_;
};

template <class Reason>
StopCallback<Reason>::StopCallback(StopSource<Reason>& source, std::function<void()> fn)
    : source_(&source), fn_(std::move(fn)) {
  if (source.stop_requested()) {
    fn_();
  } else {
    source.link(this);
  }
}

template <class Reason>
StopCallback<Reason>::~StopCallback() {
  if (linked_) source_->unlink(this);
}

}  // namespace sv::async
