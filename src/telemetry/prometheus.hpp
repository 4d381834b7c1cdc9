// src/telemetry: Prometheus text exposition (format 0.0.4) of engine::Metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/metrics.hpp"

namespace sv::telemetry {

//! The Content-Type of render_prometheus's output.
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

//! Escapes a label value for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

//! Renders every metric (names prefixed source_vitess_, see docs/operations.md "Progress and
//! metrics") with # HELP / # TYPE lines, in a deterministic order: global gauges first, then the
//! per-stream families in catalog order, then the per-shard families with shards sorted by name.
//! `now` gives uptime; `now_unix_seconds` gives position lag. Call on the thread that updates `m`.
std::string render_prometheus(const engine::Metrics& m, std::chrono::steady_clock::time_point now,
                              std::int64_t now_unix_seconds);

//! The name of a stream phase as the metrics and the progress display show it.
std::string_view phase_name(engine::StreamPhase phase);

}  // namespace sv::telemetry
