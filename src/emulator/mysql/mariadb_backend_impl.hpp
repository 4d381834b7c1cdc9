// src/emulator/mysql: template part of mariadb_backend.hpp (offload to the pool).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sv::emulator::mysql {

// Not a coroutine itself: the job goes to the heap before any coroutine frame sees it (GCC 12
// mishandles non-trivial lambdas passed by value into coroutine parameters).
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> MariaDbBackend::offload(F job) {
  using R = std::invoke_result_t<F&>;
  auto holder = std::make_shared<F>(std::move(job));
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
      [this, holder](auto handler) {
        boost::asio::post(pool_, [holder, handler = std::move(handler)]() mutable {
          auto result = std::make_shared<R>((*holder)());
          auto ex = boost::asio::get_associated_executor(handler);
          boost::asio::post(ex, [handler = std::move(handler), result]() mutable {
            std::move(handler)(std::move(*result));
          });
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace sv::emulator::mysql
