// tests/telemetry: progress figures, their log and terminal renderings, and the reporter loop.
#include <doctest/doctest.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "telemetry/progress.hpp"
#include "telemetry/progress_terminal.hpp"

using namespace sv;
using namespace std::chrono_literals;
using telemetry::test::fixture_metrics;
using telemetry::test::fixture_unix_now;

namespace {

engine::Metrics one_stream(std::chrono::steady_clock::time_point start) {
  auto m = fixture_metrics(start);
  m.streams.pop_back();
  return m;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("format_bytes and format_duration") {
  CHECK(telemetry::format_bytes(0) == "0 B");
  CHECK(telemetry::format_bytes(1023) == "1023 B");
  CHECK(telemetry::format_bytes(1024) == "1.0 KiB");
  CHECK(telemetry::format_bytes(1536) == "1.5 KiB");
  CHECK(telemetry::format_bytes(1048575) == "1.0 MiB");  // not "1024.0 KiB"
  CHECK(telemetry::format_bytes(12897485) == "12.3 MiB");
  CHECK(telemetry::format_bytes(5ull << 30) == "5.0 GiB");
  CHECK(telemetry::format_bytes(3ull << 40) == "3.0 TiB");
  CHECK(telemetry::format_duration(0s) == "0s");
  CHECK(telemetry::format_duration(-5s) == "0s");
  CHECK(telemetry::format_duration(59s) == "59s");
  CHECK(telemetry::format_duration(60s) == "1m00s");
  CHECK(telemetry::format_duration(125s) == "2m05s");
  CHECK(telemetry::format_duration(3600s) == "1h00m");
  CHECK(telemetry::format_duration(3725s) == "1h02m");
}

TEST_CASE("compute_progress without a previous sample: rates since the start") {
  const auto start = std::chrono::steady_clock::now();
  const auto m = fixture_metrics(start);
  const auto view = telemetry::compute_progress(m, nullptr, start + 10s, fixture_unix_now);
  REQUIRE(view.rows.size() == 2);
  telemetry::ProgressRow customers;
  customers.name = "customers";
  customers.ns = "commerce";
  customers.phase = engine::StreamPhase::running;
  customers.rows = 450;
  customers.bytes = 45000;
  customers.rows_per_second = 56.25;  // 450 rows in the 8 s since the stream started
  customers.percent = 45.0;
  customers.eta = 10s;  // ceil(550 / 56.25)
  customers.elapsed = 8s;
  CHECK(view.rows[0] == customers);
  telemetry::ProgressRow odd;
  odd.name = "or\"d\\ers\n";
  odd.ns = "commerce";
  CHECK(view.rows[1] == odd);
  telemetry::ProgressTotals totals;
  totals.pending = 1;
  totals.running = 1;
  totals.rows = 450;
  totals.bytes = 45000;
  totals.rows_per_second = 45;  // 450 rows in 10 s of sync
  totals.readers_active = 2;
  totals.readers_waiting = 1;
  totals.elapsed = 10s;
  CHECK(view.totals == totals);

  CHECK(telemetry::render_log_line(view.rows[0]) ==
        "progress customers: 450 rows (45.0%), 56 rows/s, 43.9 KiB, ETA 10s");
  CHECK(telemetry::render_log_line(view.rows[1]) == "progress or\"d\\ers\n: pending");
  CHECK(telemetry::render_totals_line(view.totals) ==
        "progress total: 450 rows, 45 rows/s, 43.9 KiB in 10s; tables: 1 running, 1 pending; readers: 2 active, 1 "
        "waiting");
}

TEST_CASE("compute_progress with a previous sample: rates over the interval") {
  const auto start = std::chrono::steady_clock::now();
  auto m = fixture_metrics(start);
  m.streams[0].records = 250;
  const auto before = telemetry::take_sample(m, start + 8s);
  CHECK(before.total == 250);
  CHECK(before.records.at("commerce.customers") == 250);
  m.streams[0].records = 450;
  const auto view = telemetry::compute_progress(m, &before, start + 10s, fixture_unix_now);
  CHECK(view.rows[0].rows_per_second == 100);
  CHECK(view.rows[0].eta == std::optional(6s));  // ceil(550 / 100)
  CHECK(view.totals.rows_per_second == 100);
  CHECK(telemetry::render_log_line(view.rows[0]) ==
        "progress customers: 450 rows (45.0%), 100 rows/s, 43.9 KiB, ETA 6s");
}

TEST_CASE("progress lines for replicating, complete, incomplete and over-estimate tables") {
  struct Case {
    const char* what;
    std::function<void(engine::StreamMetrics&)> change;
    std::chrono::seconds at;  // since the sync's start (the stream started at 2 s)
    std::optional<double> percent;
    std::optional<std::chrono::seconds> eta;
    std::optional<std::int64_t> lag;
    std::string line;
  };
  const std::vector<Case> cases = {
      {"every shard left its copy: replicating with the largest lag, no percent shown, no ETA",
       [](auto& s) { s.shards["80-"].copying = false; }, 10s, 45.0, std::nullopt, 3,
       "progress customers: 450 rows, 56 rows/s, 43.9 KiB, replicating, lag 3s"},
      {"complete: 100%, the average rate from start to end",
       [](auto& s) {
         s.phase = engine::StreamPhase::complete;
         s.ended_at = s.started_at + 3s;
       },
       10s, 100.0, std::nullopt, std::nullopt, "progress customers: complete, 450 rows, 43.9 KiB in 3s (150 rows/s)"},
      {"incomplete keeps its percent",
       [](auto& s) {
         s.phase = engine::StreamPhase::incomplete;
         s.ended_at = s.started_at + 90s;
       },
       100s, 45.0, std::nullopt, std::nullopt,
       "progress customers: incomplete, 450 rows, 43.9 KiB in 1m30s (5 rows/s)"},
      {"more rows than estimated: capped at 100%, no ETA", [](auto& s) { s.records = 1500; }, 12s, 100.0, std::nullopt,
       std::nullopt, "progress customers: 1500 rows (100.0%), 150 rows/s, 43.9 KiB"},
      {"no estimate and no rate: neither percent nor ETA",
       [](auto& s) {
         s.row_estimate.reset();
         s.records = 0;
         s.bytes = 0;
       },
       12s, std::nullopt, std::nullopt, std::nullopt, "progress customers: 0 rows, 0 rows/s, 0 B"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto start = std::chrono::steady_clock::now();
    auto m = one_stream(start);
    c.change(m.streams[0]);
    const auto view = telemetry::compute_progress(m, nullptr, start + c.at, fixture_unix_now);
    CHECK(view.rows[0].percent == c.percent);
    CHECK(view.rows[0].eta == c.eta);
    CHECK(view.rows[0].lag_seconds == c.lag);
    CHECK(telemetry::render_log_line(view.rows[0]) == c.line);
  }
}

TEST_CASE("render_tty_lines: aligned columns, bar, totals line, cut to the terminal width") {
  const auto start = std::chrono::steady_clock::now();
  auto m = fixture_metrics(start);
  m.streams[1].name = "orders";
  engine::StreamMetrics done;
  done.name = "products";
  done.ns = "commerce";
  done.records = 2048;
  done.bytes = 3 * 1024 * 1024;
  done.phase = engine::StreamPhase::complete;
  done.started_at = start;
  done.ended_at = start + 4s;
  m.streams.push_back(done);
  const auto view = telemetry::compute_progress(m, nullptr, start + 10s, fixture_unix_now);
  const std::vector<std::string> expected = {
      "customers  [#########-----------]   45.0%           450 rows         56 rows/s    43.9 KiB  ETA 10s",
      "orders     [                    ]                     0 rows          0 rows/s         0 B  pending",
      "products   [####################]                  2048 rows        512 rows/s     3.0 MiB  complete in 4s",
      "total                                              2498 rows        250 rows/s     3.0 MiB  10s; 1 running, 1 "
      "pending, "
      "1 complete; readers 2 active, 1 waiting",
  };
  CHECK(telemetry::render_tty_lines(view, 0) == expected);
  const auto cut = telemetry::render_tty_lines(view, 42);  // 41 columns, the last one kept free
  REQUIRE(cut.size() == 4);
  CHECK(cut[0] == "customers  [#########-----------]   45.0%");
  CHECK(cut[3] == "total");  // no trailing blanks either
}

TEST_CASE("render_tty_frame moves up over the last frame and erases each line") {
  CHECK(telemetry::render_tty_frame({"a", "b"}, 0) == "\r\x1b[2Ka\n\r\x1b[2Kb\n");
  CHECK(telemetry::render_tty_frame({"a", "b"}, 2) == "\x1b[2A\r\x1b[2Ka\n\r\x1b[2Kb\n");
  CHECK(telemetry::render_tty_frame({"a"}, 3) == "\x1b[3A\r\x1b[2Ka\n\r\x1b[2K\n\r\x1b[2K\n\x1b[2A");
}

TEST_CASE("ProgressReporter, log mode: running lines each interval, one final line when complete") {
  boost::asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  auto m = one_stream(start);
  std::vector<std::string> lines;
  telemetry::ProgressReporter* reporter_ptr = nullptr;
  telemetry::ProgressOptions options;
  options.mode = telemetry::ProgressMode::log;
  options.interval = 20ms;
  // Driven by what was printed, not by timers, so a loaded machine cannot reorder the steps.
  options.write = [&](std::string_view line) {
    lines.emplace_back(line);
    if (lines.size() == 2) {
      m.streams[0].phase = engine::StreamPhase::complete;
      m.streams[0].ended_at = m.streams[0].started_at + 3s;
    } else if (lines.size() == 3) {
      reporter_ptr->stop();
    }
  };
  telemetry::ProgressReporter reporter(io, m, options);
  reporter_ptr = &reporter;
  bool finished = false;
  boost::asio::co_spawn(io, reporter.run(), [&](std::exception_ptr e) {
    CHECK(!e);
    finished = true;
  });
  io.run_for(10s);
  CHECK(finished);
  REQUIRE(lines.size() == 3);  // the final round adds nothing: the table already had its last line
  CHECK(lines[0].rfind("progress customers: 450 rows (45.0%), ", 0) == 0);  // rates vary with the timing
  CHECK(lines[1].rfind("progress customers: 450 rows (45.0%), ", 0) == 0);
  CHECK(lines[2] == "progress customers: complete, 450 rows, 43.9 KiB in 3s (150 rows/s)");
}

TEST_CASE("ProgressReporter, log mode: stop() before any interval prints a final line per table") {
  boost::asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  auto m = fixture_metrics(start);
  m.streams[1].name = "orders";
  std::vector<std::string> lines;
  telemetry::ProgressOptions options;
  options.interval = 1h;
  options.write = [&lines](std::string_view line) { lines.emplace_back(line); };
  telemetry::ProgressReporter reporter(io, m, options);
  bool finished = false;
  boost::asio::co_spawn(io, reporter.run(), [&](std::exception_ptr) { finished = true; });
  boost::asio::post(io, [&] { reporter.stop(); });
  io.run_for(10s);
  CHECK(finished);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("progress customers: 450 rows (45.0%), ", 0) == 0);
  CHECK(lines[1] == "progress orders: pending");
  CHECK(lines[2].rfind("progress total: 450 rows, ", 0) == 0);
}

TEST_CASE("ProgressReporter, tty mode: a frame at once, redraws in place, the final frame stays") {
  boost::asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  auto m = one_stream(start);
  std::string out;
  std::size_t writes = 0;
  telemetry::ProgressReporter* reporter_ptr = nullptr;
  telemetry::ProgressOptions options;
  options.mode = telemetry::ProgressMode::tty;
  options.interval = 20ms;
  options.write = [&](std::string_view bytes) {
    out += bytes;
    if (++writes == 3) {
      m.streams[0].phase = engine::StreamPhase::complete;
      m.streams[0].ended_at = m.streams[0].started_at + 3s;
      reporter_ptr->stop();
    }
  };
  options.width = [] { return std::size_t{0}; };
  telemetry::ProgressReporter reporter(io, m, options);
  reporter_ptr = &reporter;
  bool finished = false;
  boost::asio::co_spawn(io, reporter.run(), [&](std::exception_ptr) { finished = true; });
  io.run_for(10s);
  CHECK(finished);
  CHECK(writes == 4);  // the first frame at once, two redraws, the final frame
  CHECK(count(out, "\r\x1b[2Kcustomers ") == 4);
  CHECK(count(out, "\x1b[2A") == 3);  // every frame but the first moves up over its 2 lines
  CHECK(out.rfind("\r\x1b[2Kcustomers  [#########-----------]   45.0%           450 rows ", 0) == 0);
  const auto last = out.substr(out.rfind("\x1b[2A"));
  CHECK(
      last.rfind(
          "\x1b[2A\r\x1b[2Kcustomers  [####################]  100.0%           450 rows        150 rows/s    43.9 KiB  "
          "complete in 3s\n\r\x1b[2Ktotal ",
          0) == 0);
  CHECK(last.find("1 complete; readers 2 active, 1 waiting\n") != std::string::npos);
  CHECK(last.back() == '\n');
}

TEST_CASE("ProgressTerminal: a log line erases the block, prints, and draws the block again") {
  std::string out;
  auto terminal = std::make_shared<telemetry::ProgressTerminal>([&out](std::string_view b) { out += b; });
  terminal->set_pattern("%^%l%$ %v");
  spdlog::logger log("test", terminal);
  log.info("hello");
  CHECK(out == "\033[32minfo\033[m hello\n");  // no block yet: a plain colored line
  out.clear();
  terminal->show({"a", "b"});
  CHECK(out == "\r\x1b[2Ka\n\r\x1b[2Kb\n");
  out.clear();
  log.warn("careful");
  CHECK(out == "\x1b[2A\r\x1b[J\033[33m\033[1mwarning\033[m careful\n\r\x1b[2Ka\n\r\x1b[2Kb\n");
  out.clear();
  terminal->show({"c"});
  CHECK(out == "\x1b[2A\r\x1b[2Kc\n\r\x1b[2K\n\x1b[1A");
  out.clear();
  terminal->release();
  log.info("after");
  CHECK(out == "\033[32minfo\033[m after\n");  // the last block stays; the line goes below it
}

TEST_CASE("ProgressReporter, tty mode through a ProgressTerminal: the final frame is released") {
  boost::asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  auto m = one_stream(start);
  std::string out;
  auto terminal = std::make_shared<telemetry::ProgressTerminal>([&out](std::string_view b) { out += b; });
  terminal->set_pattern("%v");
  spdlog::logger log("test", terminal);
  telemetry::ProgressOptions options;
  options.mode = telemetry::ProgressMode::tty;
  options.interval = 1h;
  options.terminal = terminal;
  options.width = [] { return std::size_t{0}; };
  telemetry::ProgressReporter reporter(io, m, options);
  bool finished = false;
  boost::asio::co_spawn(io, reporter.run(), [&](std::exception_ptr) { finished = true; });
  boost::asio::post(io, [&] {
    log.info("between");  // erases the first frame and draws it again below the line
    reporter.stop();
  });
  io.run_for(10s);
  CHECK(finished);
  CHECK(count(out, "\r\x1b[2Kcustomers ") == 3);  // first frame, redrawn after the log line, final
  CHECK(out.find("\x1b[2A\r\x1b[Jbetween\n\r\x1b[2Kcustomers ") != std::string::npos);
  out.clear();
  log.info("after");
  CHECK(out == "after\n");
}
