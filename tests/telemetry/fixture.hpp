// tests/telemetry: one fixed engine::Metrics that the unit and integration tests render.
#pragma once

#include <chrono>

#include "engine/metrics.hpp"

namespace sv::telemetry::test {

inline constexpr std::int64_t fixture_unix_now = 1'700'000'010;

//! Two streams: one running with two shards (one replicating, one copying), and one pending with
//! no shards yet whose name needs escaping.
inline engine::Metrics fixture_metrics(std::chrono::steady_clock::time_point start) {
  engine::Metrics m;
  m.started_at = start;
  m.readers_active = 2;
  m.readers_waiting = 1;
  m.retries = 4;
  m.output_queue = [] { return std::size_t{7}; };

  engine::StreamMetrics customers;
  customers.name = "customers";
  customers.ns = "commerce";
  customers.row_estimate = 1000;
  customers.records = 450;
  customers.bytes = 45000;
  customers.checkpoints = 3;
  customers.phase = engine::StreamPhase::running;
  customers.started_at = start + std::chrono::seconds(2);
  auto& a = customers.shards["80-"];
  a.records = 250;
  a.bytes = 25000;
  a.copying = true;
  auto& b = customers.shards["-80"];
  b.records = 200;
  b.bytes = 20000;
  b.retries = 1;
  b.last_event_time = fixture_unix_now - 3;
  b.copying = false;
  m.streams.push_back(customers);

  engine::StreamMetrics odd;
  odd.name = "or\"d\\ers\n";
  odd.ns = "commerce";
  m.streams.push_back(odd);
  return m;
}

}  // namespace sv::telemetry::test
