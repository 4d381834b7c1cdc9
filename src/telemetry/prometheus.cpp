// src/telemetry: Prometheus text rendering. One function per metric family keeps the HELP/TYPE
// header next to its samples, so a family is never split (the format requires them grouped).
#include "telemetry/prometheus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace sv::telemetry {

namespace {

constexpr std::string_view prefix = "source_vitess_";

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {}{} {}\n# TYPE {}{} {}\n", prefix, name, help, prefix, name, type);
}

void stream_labels(std::string& out, const engine::StreamMetrics& s) {
  out += "stream=\"";
  out += escape_label_value(s.name);
  out += "\",namespace=\"";
  out += escape_label_value(s.ns);
  out += '"';
}

template <class V>
void stream_sample(std::string& out, std::string_view name, const engine::StreamMetrics& s, V value) {
  out += prefix;
  out += name;
  out += '{';
  stream_labels(out, s);
  fmt::format_to(std::back_inserter(out), "}} {}\n", value);
}

//! One sample per shard of every stream, in catalog order then shard order (std::map sorts).
template <class F>
void shard_samples(std::string& out, std::string_view name, const engine::Metrics& m, F value_of) {
  for (const auto& s : m.streams) {
    for (const auto& [shard, sh] : s.shards) {
      auto value = value_of(sh);
      if (!value) continue;
      out += prefix;
      out += name;
      out += '{';
      stream_labels(out, s);
      out += ",shard=\"";
      out += escape_label_value(shard);
      fmt::format_to(std::back_inserter(out), "\"}} {}\n", *value);
    }
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view phase_name(engine::StreamPhase phase) {
  switch (phase) {
    case engine::StreamPhase::pending: return "pending";
    case engine::StreamPhase::running: return "running";
    case engine::StreamPhase::complete: return "complete";
    case engine::StreamPhase::incomplete: return "incomplete";
  }
  return "pending";
}

std::string render_prometheus(const engine::Metrics& m, std::chrono::steady_clock::time_point now,
                              std::int64_t now_unix_seconds) {
  std::string out;
  out.reserve(1024 + m.streams.size() * 1024);
  auto global = [&out](std::string_view name, std::string_view type, std::string_view help, auto value) {
    family(out, name, type, help);
    fmt::format_to(std::back_inserter(out), "{}{} {}\n", prefix, name, value);
  };

  // Milliseconds are plenty, and a fixed precision keeps the text stable.
  const auto uptime = std::max(now - m.started_at, std::chrono::steady_clock::duration::zero());
  global("uptime_seconds", "gauge", "Seconds since the sync started.",
         fmt::format("{:.3f}", std::chrono::duration<double>(uptime).count()));
  global("readers_active", "gauge", "Shard VStreams open now.", m.readers_active);
  global("readers_waiting", "gauge", "Shard readers waiting for a max_concurrent_readers slot.", m.readers_waiting);
  global("output_queue_events", "gauge", "Events queued in the output, not yet written.",
         m.output_queue ? m.output_queue() : std::size_t{0});
  global("retries_total", "counter", "Retries of all kinds (shard VStreams and position peeks).", m.retries);

  family(out, "stream_phase", "gauge",
         "1 for the phase the stream is in (pending, running, complete, incomplete), 0 for the others.");
  for (const auto& s : m.streams) {
    for (auto p : {engine::StreamPhase::pending, engine::StreamPhase::running, engine::StreamPhase::complete,
                   engine::StreamPhase::incomplete}) {
      out += prefix;
      out += "stream_phase{";
      stream_labels(out, s);
      fmt::format_to(std::back_inserter(out), ",phase=\"{}\"}} {}\n", phase_name(p), s.phase == p ? 1 : 0);
    }
  }
  family(out, "stream_records_total", "counter", "Rows of the stream handed to the output.");
  for (const auto& s : m.streams) stream_sample(out, "stream_records_total", s, s.records);
  family(out, "stream_bytes_total", "counter", "Bytes of the stream's rows as rendered.");
  for (const auto& s : m.streams) stream_sample(out, "stream_bytes_total", s, s.bytes);
  family(out, "stream_row_estimate", "gauge", "Estimated rows of the table (information_schema), when known.");
  for (const auto& s : m.streams) {
    if (s.row_estimate) stream_sample(out, "stream_row_estimate", s, *s.row_estimate);
  }
  family(out, "stream_checkpoints_total", "counter",
         "Checkpoints (STATE messages or _state.json writes) of the stream.");
  for (const auto& s : m.streams) stream_sample(out, "stream_checkpoints_total", s, s.checkpoints);

  family(out, "records_total", "counter", "Rows handed to the output, per shard.");
  shard_samples(out, "records_total", m, [](const engine::ShardMetrics& sh) { return std::optional(sh.records); });
  family(out, "bytes_total", "counter", "Bytes of the rows handed to the output as rendered, per shard.");
  shard_samples(out, "bytes_total", m, [](const engine::ShardMetrics& sh) { return std::optional(sh.bytes); });
  family(out, "shard_retries_total", "counter", "Times the shard's VStream was reopened after a transient error.");
  shard_samples(out, "shard_retries_total", m,
                [](const engine::ShardMetrics& sh) { return std::optional(sh.retries); });
  family(out, "shard_copying", "gauge", "1 while the shard's cursor is inside a table copy, else 0.");
  shard_samples(out, "shard_copying", m,
                [](const engine::ShardMetrics& sh) { return std::optional<int>(sh.copying ? 1 : 0); });
  family(out, "shard_done", "gauge", "1 once the shard reached its stop for this sync, else 0.");
  shard_samples(out, "shard_done", m,
                [](const engine::ShardMetrics& sh) { return std::optional<int>(sh.done ? 1 : 0); });
  family(out, "position_lag_seconds", "gauge",
         "Seconds between now and the newest source event seen on the shard (only once it saw one).");
  shard_samples(out, "position_lag_seconds", m, [now_unix_seconds](const engine::ShardMetrics& sh) {
    // A source clock ahead of ours would give a negative lag; it means "caught up".
    return sh.last_event_time > 0 ? std::optional(std::max<std::int64_t>(0, now_unix_seconds - sh.last_event_time))
                                  : std::nullopt;
  });
  return out;
}

}  // namespace sv::telemetry
