// tests/telemetry: the Prometheus text of a fixed Metrics, exactly.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "fixture.hpp"
#include "telemetry/prometheus.hpp"

using namespace sv;
using namespace std::chrono_literals;

namespace {

// The exact exposition of fixture_metrics() 12.5 s after its start.
const char* const fixture_text = R"PROM(# HELP source_vitess_uptime_seconds Seconds since the sync started.
# TYPE source_vitess_uptime_seconds gauge
source_vitess_uptime_seconds 12.500
# HELP source_vitess_readers_active Shard VStreams open now.
# TYPE source_vitess_readers_active gauge
source_vitess_readers_active 2
# HELP source_vitess_readers_waiting Shard readers waiting for a max_concurrent_readers slot.
# TYPE source_vitess_readers_waiting gauge
source_vitess_readers_waiting 1
# HELP source_vitess_output_queue_events Events queued in the output, not yet written.
# TYPE source_vitess_output_queue_events gauge
source_vitess_output_queue_events 7
# HELP source_vitess_retries_total Retries of all kinds (shard VStreams and position peeks).
# TYPE source_vitess_retries_total counter
source_vitess_retries_total 4
# HELP source_vitess_stream_phase 1 for the phase the stream is in (pending, running, complete, incomplete), 0 for the others.
# TYPE source_vitess_stream_phase gauge
source_vitess_stream_phase{stream="customers",namespace="commerce",phase="pending"} 0
source_vitess_stream_phase{stream="customers",namespace="commerce",phase="running"} 1
source_vitess_stream_phase{stream="customers",namespace="commerce",phase="complete"} 0
source_vitess_stream_phase{stream="customers",namespace="commerce",phase="incomplete"} 0
source_vitess_stream_phase{stream="or\"d\\ers\n",namespace="commerce",phase="pending"} 1
source_vitess_stream_phase{stream="or\"d\\ers\n",namespace="commerce",phase="running"} 0
source_vitess_stream_phase{stream="or\"d\\ers\n",namespace="commerce",phase="complete"} 0
source_vitess_stream_phase{stream="or\"d\\ers\n",namespace="commerce",phase="incomplete"} 0
# HELP source_vitess_stream_records_total Rows of the stream handed to the output.
# TYPE source_vitess_stream_records_total counter
source_vitess_stream_records_total{stream="customers",namespace="commerce"} 450
source_vitess_stream_records_total{stream="or\"d\\ers\n",namespace="commerce"} 0
# HELP source_vitess_stream_bytes_total Bytes of the stream's rows as rendered.
# TYPE source_vitess_stream_bytes_total counter
source_vitess_stream_bytes_total{stream="customers",namespace="commerce"} 45000
source_vitess_stream_bytes_total{stream="or\"d\\ers\n",namespace="commerce"} 0
# HELP source_vitess_stream_row_estimate Estimated rows of the table (information_schema), when known.
# TYPE source_vitess_stream_row_estimate gauge
source_vitess_stream_row_estimate{stream="customers",namespace="commerce"} 1000
# HELP source_vitess_stream_checkpoints_total Checkpoints (STATE messages or _state.json writes) of the stream.
# TYPE source_vitess_stream_checkpoints_total counter
source_vitess_stream_checkpoints_total{stream="customers",namespace="commerce"} 3
source_vitess_stream_checkpoints_total{stream="or\"d\\ers\n",namespace="commerce"} 0
# HELP source_vitess_records_total Rows handed to the output, per shard.
# TYPE source_vitess_records_total counter
source_vitess_records_total{stream="customers",namespace="commerce",shard="-80"} 200
source_vitess_records_total{stream="customers",namespace="commerce",shard="80-"} 250
# HELP source_vitess_bytes_total Bytes of the rows handed to the output as rendered, per shard.
# TYPE source_vitess_bytes_total counter
source_vitess_bytes_total{stream="customers",namespace="commerce",shard="-80"} 20000
source_vitess_bytes_total{stream="customers",namespace="commerce",shard="80-"} 25000
# HELP source_vitess_shard_retries_total Times the shard's VStream was reopened after a transient error.
# TYPE source_vitess_shard_retries_total counter
source_vitess_shard_retries_total{stream="customers",namespace="commerce",shard="-80"} 1
source_vitess_shard_retries_total{stream="customers",namespace="commerce",shard="80-"} 0
# HELP source_vitess_shard_copying 1 while the shard's cursor is inside a table copy, else 0.
# TYPE source_vitess_shard_copying gauge
source_vitess_shard_copying{stream="customers",namespace="commerce",shard="-80"} 0
source_vitess_shard_copying{stream="customers",namespace="commerce",shard="80-"} 1
# HELP source_vitess_shard_done 1 once the shard reached its stop for this sync, else 0.
# TYPE source_vitess_shard_done gauge
source_vitess_shard_done{stream="customers",namespace="commerce",shard="-80"} 0
source_vitess_shard_done{stream="customers",namespace="commerce",shard="80-"} 0
# HELP source_vitess_position_lag_seconds Seconds between now and the newest source event seen on the shard (only once it saw one).
# TYPE source_vitess_position_lag_seconds gauge
source_vitess_position_lag_seconds{stream="customers",namespace="commerce",shard="-80"} 3
)PROM";

}  // namespace

TEST_CASE("escape_label_value escapes backslash, double quote and newline only") {
  CHECK(telemetry::escape_label_value("plain -80 ü\t") == "plain -80 ü\t");
  CHECK(telemetry::escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(telemetry::escape_label_value("") == "");
}

TEST_CASE("render_prometheus renders the fixture exactly") {
  const auto start = std::chrono::steady_clock::now();
  const auto m = telemetry::test::fixture_metrics(start);
  CHECK(telemetry::render_prometheus(m, start + 12500ms, telemetry::test::fixture_unix_now) == fixture_text);
}

TEST_CASE("render_prometheus of an empty sync keeps every family header and zero globals") {
  const auto start = std::chrono::steady_clock::now();
  engine::Metrics m;
  m.started_at = start;
  const auto text = telemetry::render_prometheus(m, start, 0);
  CHECK(text.find("source_vitess_output_queue_events 0\n") != std::string::npos);  // no output_queue set
  CHECK(text.find("source_vitess_uptime_seconds 0.000\n") != std::string::npos);
  CHECK(text.find("source_vitess_retries_total 0\n") != std::string::npos);
  CHECK(text.find("{") == std::string::npos);  // no labelled samples at all
  // 16 families, each with a HELP and a TYPE line, and 5 global samples.
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  CHECK(lines == 16 * 2 + 5);
}

TEST_CASE("render_prometheus: lag is never negative, finished phases and clock before start") {
  const auto start = std::chrono::steady_clock::now();
  auto m = telemetry::test::fixture_metrics(start);
  m.streams[0].phase = engine::StreamPhase::incomplete;
  m.streams[0].shards["-80"].last_event_time = telemetry::test::fixture_unix_now + 50;  // source clock ahead
  m.streams[0].shards["80-"].last_event_time = telemetry::test::fixture_unix_now - 61;
  m.streams[0].shards["80-"].done = true;
  const auto text = telemetry::render_prometheus(m, start - 1s, telemetry::test::fixture_unix_now);
  CHECK(text.find("source_vitess_uptime_seconds 0.000\n") != std::string::npos);
  CHECK(text.find("phase=\"incomplete\"} 1\n") != std::string::npos);
  CHECK(text.find("phase=\"running\"} 1\n") == std::string::npos);
  CHECK(
      text.find("source_vitess_position_lag_seconds{stream=\"customers\",namespace=\"commerce\",shard=\"-80\"} 0\n"
                "source_vitess_position_lag_seconds{stream=\"customers\",namespace=\"commerce\",shard=\"80-\"} 61\n") !=
      std::string::npos);
  CHECK(text.find("source_vitess_shard_done{stream=\"customers\",namespace=\"commerce\",shard=\"80-\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("no metric name has two types") {
  const auto start = std::chrono::steady_clock::now();
  const auto text = telemetry::render_prometheus(telemetry::test::fixture_metrics(start), start, 0);
  std::map<std::string, int> types;
  std::size_t pos = 0;
  while ((pos = text.find("# TYPE ", pos)) != std::string::npos) {
    pos += 7;
    const auto name = text.substr(pos, text.find(' ', pos) - pos);
    ++types[name];
  }
  CHECK(types.size() == 16);
  for (const auto& type : types) CHECK_MESSAGE(type.second == 1, type.first);
}
