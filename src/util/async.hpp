// src/util: small coroutine primitives for Asio coroutines that all run on one io_context thread
// (no locking): a FIFO counting semaphore whose permits are released by RAII, and a latch that
// waits for a number of spawned coroutines.
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <deque>
#include <memory>
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

}  // namespace sv::async
