// src/emulator/mysql: template part of mariadb_backend.hpp (offload to the backend's pool).
#pragma once

#include "emulator/mysql/offload.hpp"

namespace sv::emulator::mysql {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> MariaDbBackend::offload(F job) {
  return mysql::offload(pool_, std::move(job));
}

}  // namespace sv::emulator::mysql
