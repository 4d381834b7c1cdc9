// src/emulator/mysql: run a blocking job (a libmariadb call) on a thread pool and resume the
// awaiting coroutine on its own executor, with the job's return value.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <type_traits>

namespace sv::emulator::mysql {

//! Not a coroutine itself: the job goes to the heap before any coroutine frame sees it (GCC 12
//! mishandles non-trivial temporaries in `co_return co_await f(lambda)`; callers name the job
//! and the result: `auto job = ...; auto r = co_await offload(pool, std::move(job));`).
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(boost::asio::thread_pool& pool, F job) {
  using R = std::invoke_result_t<F&>;
  auto holder = std::make_shared<F>(std::move(job));
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
      [&pool, holder](auto handler) {
        boost::asio::post(pool, [holder, handler = std::move(handler)]() mutable {
          auto result = std::make_shared<R>((*holder)());
          auto ex = boost::asio::get_associated_executor(handler);
          boost::asio::post(
              ex, [handler = std::move(handler), result]() mutable { std::move(handler)(std::move(*result)); });
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace sv::emulator::mysql
