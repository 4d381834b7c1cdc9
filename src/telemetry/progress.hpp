// src/telemetry: the live progress display on stderr. Pure renderers (rows, rates, percent, ETA,
// the terminal frame and the log lines) plus ProgressReporter, a coroutine that samples
// engine::Metrics on the caller's io_context every interval and prints them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/metrics.hpp"

namespace sv::telemetry {

class ProgressTerminal;

//! How one table is doing, as the display shows it.
struct ProgressRow {
  std::string name;
  std::string ns;
  engine::StreamPhase phase = engine::StreamPhase::pending;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  //! Running: over the last interval (since the start without a previous sample). Finished: the
  //! average from start to end. 0 when unknown.
  double rows_per_second = 0;
  std::optional<double> percent;            //!< of the row estimate, 0-100 (capped); 100 once complete
  std::optional<std::chrono::seconds> eta;  //!< while copying, with an estimate above rows and a rate
  std::chrono::seconds elapsed{0};          //!< running: since its start; finished: start to end
  bool replicating = false;                 //!< running and every shard has left its copy (CDC)
  std::optional<std::int64_t> lag_seconds;  //!< while replicating: the largest shard lag, once known
  bool operator==(const ProgressRow&) const = default;
};

struct ProgressTotals {
  std::size_t pending = 0, running = 0, complete = 0, incomplete = 0;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  double rows_per_second = 0;  //!< all tables, over the last interval (since the start without one)
  std::size_t readers_active = 0;
  std::size_t readers_waiting = 0;
  std::chrono::seconds elapsed{0};  //!< since Metrics::started_at
  bool operator==(const ProgressTotals&) const = default;
};

struct ProgressView {
  std::vector<ProgressRow> rows;  //!< catalog order
  ProgressTotals totals;
};

//! Row counts at one moment, the base of the next view's rates.
struct ProgressSample {
  std::chrono::steady_clock::time_point at{};
  std::map<std::string, std::uint64_t> records;  //!< by "namespace.name"
  std::uint64_t total = 0;
};

ProgressSample take_sample(const engine::Metrics& m, std::chrono::steady_clock::time_point now);

//! The view at `now`; rates over the time since `previous` when given.
ProgressView compute_progress(const engine::Metrics& m, const ProgressSample* previous,
                              std::chrono::steady_clock::time_point now, std::int64_t now_unix_seconds);

//! 512 B, 1.5 KiB, 12.3 MiB, 4.0 GiB, 1.2 TiB.
std::string format_bytes(std::uint64_t bytes);
//! 5s, 2m05s, 1h02m.
std::string format_duration(std::chrono::seconds d);

//! One log line for a table (no trailing newline), e.g.
//! `progress customers: 120000 rows (45.2%), 31000 rows/s, 12.3 MiB, ETA 5s`.
std::string render_log_line(const ProgressRow& row);
//! `progress total: 360000 rows, 62000 rows/s, 36.9 MiB in 12s; tables: 1 running, 2 complete; readers: 4 active, 0
//! waiting`.
std::string render_totals_line(const ProgressTotals& totals);
//! The terminal block: one line per table, then a totals line. Lines longer than `width - 1`
//! columns are cut (so the terminal never wraps them); width 0 = no limit.
std::vector<std::string> render_tty_lines(const ProgressView& view, std::size_t width);
//! The bytes that draw `lines` over the `previous_lines` lines drawn last time (ANSI cursor up,
//! then carriage return + erase line per line). The cursor ends below the block.
std::string render_tty_frame(const std::vector<std::string>& lines, std::size_t previous_lines);

enum class ProgressMode {
  tty,  //!< redraw a block in place (stderr is a terminal)
  log,  //!< log lines (stderr is a file or a pipe, or Airbyte's job log)
};

//! tty when stderr is a terminal and TERM is not "dumb", else log.
ProgressMode default_progress_mode();

struct ProgressOptions {
  ProgressMode mode = ProgressMode::log;
  //! Between two frames / rounds of log lines; 0 = the mode's default (tty 1 s, log 5 s).
  std::chrono::milliseconds interval{0};
  //! Where output goes. tty: the raw frame bytes (default: stderr). log: one line without its
  //! newline (default: spdlog::info).
  std::function<void(std::string_view)> write;
  //! tty: when set, frames go through this sink (shared with the log lines) instead of `write`;
  //! run() releases it after the final frame. See install_progress_terminal().
  std::shared_ptr<ProgressTerminal> terminal;
  //! tty: the terminal's columns (default: asks stderr's terminal; 0 = unknown, no cutting).
  std::function<std::size_t()> width;
};

//! Prints progress until stopped. Log mode: one line per running table each interval, a totals line
//! when there are several tables, one final line per table when it completes (or fails). stop()
//! wakes run(), which prints the final frame (tty) or the final lines of tables that did not get
//! one yet (log) and returns. The reporter and `metrics` must outlive run().
class ProgressReporter {
 public:
  ProgressReporter(boost::asio::io_context& io, const engine::Metrics& metrics, ProgressOptions options);

  boost::asio::awaitable<void> run();
  void stop();

 private:
  void tick(bool final);

  const engine::Metrics& metrics_;
  ProgressOptions options_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  ProgressSample previous_;
  bool has_previous_ = false;
  std::size_t drawn_lines_ = 0;
  std::set<std::string> final_reported_;  //!< "namespace.name" of tables that got their last log line
};

}  // namespace sv::telemetry
