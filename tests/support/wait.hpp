// tests/support: waiting for something another thread does, with a deadline, instead of sleeping
// in a loop. Counter is for events the test can count (a server handler ending, a write done):
// the thread that sees the event calls increment() and waiters wake at once. wait_until is for
// conditions nothing can signal (a child process's file, an emulator's HTTP counter): it checks
// at a short interval until the deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sv::testing {

//! A thread-safe count with condition waits; reads like the std::atomic<int> it replaces.
class Counter {
 public:
  void increment() {
    // Notified under the lock: a waiter that sees the new value may destroy the Counter at once
    // (a test ending), which must not happen while this thread is still inside notify_all()
    // (ThreadSanitizer caught it: ~Counter on the test thread vs a gRPC thread's notify).
    std::lock_guard lock(mu_);
    ++value_;
    changed_.notify_all();
  }
  Counter& operator++() {
    increment();
    return *this;
  }
  int load() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  //! Waits until the count is at least `n` or `timeout` passed; returns whether it got there.
  bool wait_at_least(int n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return value_ >= n; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  int value_ = 0;
};

//! Checks `condition` every `interval` until it holds or `timeout` passed; returns its last value.
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(interval);
  }
  return true;
}

}  // namespace sv::testing
