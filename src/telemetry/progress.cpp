// src/telemetry: progress figures and their two presentations. The figures are computed from
// one Metrics read plus the previous sample, so the renderers stay pure and testable.
#include "telemetry/progress.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "telemetry/progress_terminal.hpp"
#include "telemetry/prometheus.hpp"

namespace sv::telemetry {

namespace {

using Clock = std::chrono::steady_clock;
using engine::StreamPhase;

std::string key_of(const engine::StreamMetrics& s) { return s.ns + "." + s.name; }

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::chrono::seconds whole_seconds(Clock::duration d) {
  return std::max(std::chrono::duration_cast<std::chrono::seconds>(d), std::chrono::seconds(0));
}

//! Cuts `line` to at most `max` bytes without splitting a UTF-8 sequence.
void cut(std::string& line, std::size_t max) {
  if (line.size() <= max) return;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(line[n]) & 0xC0) == 0x80) --n;
  line.resize(n);
}

void rstrip(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

std::string rate_text(double rows_per_second) { return fmt::format("{:.0f}", rows_per_second); }

}  // namespace

ProgressSample take_sample(const engine::Metrics& m, Clock::time_point now) {
  ProgressSample s;
  s.at = now;
  for (const auto& st : m.streams) {
    s.records[key_of(st)] = st.records;
    s.total += st.records;
  }
  return s;
}

ProgressView compute_progress(const engine::Metrics& m, const ProgressSample* previous, Clock::time_point now,
                              std::int64_t now_unix_seconds) {
  ProgressView view;
  const bool interval = previous != nullptr && previous->at < now;
  const double interval_s = interval ? seconds_between(previous->at, now) : 0;
  const Clock::time_point unset{};
  for (const auto& s : m.streams) {
    ProgressRow row;
    row.name = s.name;
    row.ns = s.ns;
    row.phase = s.phase;
    row.rows = s.records;
    row.bytes = s.bytes;
    const bool finished = s.phase == StreamPhase::complete || s.phase == StreamPhase::incomplete;
    if (finished) {
      if (s.started_at != unset && s.ended_at > s.started_at) {
        row.elapsed = whole_seconds(s.ended_at - s.started_at);
        row.rows_per_second = static_cast<double>(s.records) / seconds_between(s.started_at, s.ended_at);
      }
    } else if (s.phase == StreamPhase::running) {
      if (s.started_at != unset && now > s.started_at) row.elapsed = whole_seconds(now - s.started_at);
      const auto before = interval ? previous->records.find(key_of(s)) : decltype(previous->records.end()){};
      if (interval && before != previous->records.end()) {
        const auto delta = s.records >= before->second ? s.records - before->second : 0;
        row.rows_per_second = static_cast<double>(delta) / interval_s;
      } else if (s.started_at != unset && now > s.started_at) {
        row.rows_per_second = static_cast<double>(s.records) / seconds_between(s.started_at, now);
      }
      row.replicating = !s.shards.empty() && std::none_of(s.shards.begin(), s.shards.end(),
                                                          [](const auto& sh) { return sh.second.copying; });
      if (row.replicating) {
        for (const auto& [name, sh] : s.shards) {
          if (sh.last_event_time <= 0) continue;
          const auto lag = std::max<std::int64_t>(0, now_unix_seconds - sh.last_event_time);
          row.lag_seconds = std::max(row.lag_seconds.value_or(0), lag);
        }
      }
    }
    if (s.phase == StreamPhase::complete && s.row_estimate) {
      row.percent = 100.0;
    } else if (s.row_estimate && *s.row_estimate > 0) {
      row.percent = std::min(100.0, 100.0 * static_cast<double>(s.records) / static_cast<double>(*s.row_estimate));
    }
    if (s.phase == StreamPhase::running && !row.replicating && s.row_estimate && *s.row_estimate > s.records &&
        row.rows_per_second > 0) {
      const double left = static_cast<double>(*s.row_estimate - s.records) / row.rows_per_second;
      row.eta = std::chrono::seconds(static_cast<std::int64_t>(std::ceil(left)));
    }

    auto& t = view.totals;
    switch (s.phase) {
      case StreamPhase::pending: ++t.pending; break;
      case StreamPhase::running: ++t.running; break;
      case StreamPhase::complete: ++t.complete; break;
      case StreamPhase::incomplete: ++t.incomplete; break;
    }
    t.rows += s.records;
    t.bytes += s.bytes;
    view.rows.push_back(std::move(row));
  }
  auto& t = view.totals;
  t.readers_active = m.readers_active;
  t.readers_waiting = m.readers_waiting;
  if (now > m.started_at) t.elapsed = whole_seconds(now - m.started_at);
  if (interval) {
    t.rows_per_second = static_cast<double>(t.rows >= previous->total ? t.rows - previous->total : 0) / interval_s;
  } else if (now > m.started_at) {
    t.rows_per_second = static_cast<double>(t.rows) / seconds_between(m.started_at, now);
  }
  return view;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  // Switch unit before the one-decimal text would read "1024.0".
  while (value >= 1023.95 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, units[unit]);
}

std::string format_duration(std::chrono::seconds d) {
  const auto s = std::max<std::int64_t>(0, d.count());
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string render_log_line(const ProgressRow& row) {
  std::string out = fmt::format("progress {}: ", row.name);
  auto it = std::back_inserter(out);
  switch (row.phase) {
    case StreamPhase::pending: out += "pending"; break;
    case StreamPhase::running:
      fmt::format_to(it, "{} rows", row.rows);
      if (row.percent && !row.replicating) fmt::format_to(it, " ({:.1f}%)", *row.percent);
      fmt::format_to(it, ", {} rows/s, {}", rate_text(row.rows_per_second), format_bytes(row.bytes));
      if (row.replicating) {
        out += ", replicating";
        if (row.lag_seconds) fmt::format_to(it, ", lag {}", format_duration(std::chrono::seconds(*row.lag_seconds)));
      } else if (row.eta) {
        fmt::format_to(it, ", ETA {}", format_duration(*row.eta));
      }
      break;
    case StreamPhase::complete:
    case StreamPhase::incomplete:
      fmt::format_to(it, "{}, {} rows, {} in {} ({} rows/s)", phase_name(row.phase), row.rows, format_bytes(row.bytes),
                     format_duration(row.elapsed), rate_text(row.rows_per_second));
      break;
  }
  return out;
}

namespace {

std::string tables_text(const ProgressTotals& t) {
  std::string out;
  auto add = [&out](std::size_t n, std::string_view what) {
    if (n == 0) return;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", n, what);
  };
  add(t.running, "running");
  add(t.pending, "pending");
  add(t.complete, "complete");
  add(t.incomplete, "incomplete");
  return out.empty() ? std::string("none") : out;
}

}  // namespace

std::string render_totals_line(const ProgressTotals& t) {
  return fmt::format("progress total: {} rows, {} rows/s, {} in {}; tables: {}; readers: {} active, {} waiting", t.rows,
                     rate_text(t.rows_per_second), format_bytes(t.bytes), format_duration(t.elapsed), tables_text(t),
                     t.readers_active, t.readers_waiting);
}

std::vector<std::string> render_tty_lines(const ProgressView& view, std::size_t width) {
  constexpr std::size_t bar_width = 20;
  constexpr std::size_t max_name = 32;
  std::size_t name_width = 5;  // "total"
  for (const auto& r : view.rows) name_width = std::max(name_width, std::min(r.name.size(), max_name));

  auto line = [&](std::string name, std::string bar, std::string percent, std::uint64_t rows, double rate,
                  std::uint64_t bytes, std::string status) {
    cut(name, max_name);
    std::string out = fmt::format("{:<{}}  {}  {:>6}  {:>12} rows  {:>9} rows/s  {:>10}  {}", name, name_width, bar,
                                  percent, rows, rate_text(rate), format_bytes(bytes), status);
    if (width > 0) cut(out, width - 1);
    rstrip(out);
    return out;
  };

  std::vector<std::string> lines;
  for (const auto& r : view.rows) {
    std::string bar(bar_width, ' ');
    std::string percent;
    if (r.percent && !r.replicating) {
      const auto filled = static_cast<std::size_t>(std::lround(*r.percent / 100.0 * bar_width));
      bar = std::string(filled, '#') + std::string(bar_width - filled, '-');
      percent = fmt::format("{:.1f}%", *r.percent);
    } else if (r.phase == StreamPhase::complete) {
      bar = std::string(bar_width, '#');
    }
    std::string status;
    switch (r.phase) {
      case StreamPhase::pending: status = "pending"; break;
      case StreamPhase::running:
        if (r.replicating) {
          status = "replicating";
          if (r.lag_seconds) status += ", lag " + format_duration(std::chrono::seconds(*r.lag_seconds));
        } else if (r.eta) {
          status = "ETA " + format_duration(*r.eta);
        }
        break;
      case StreamPhase::complete:
      case StreamPhase::incomplete:
        status = fmt::format("{} in {}", phase_name(r.phase), format_duration(r.elapsed));
        break;
    }
    lines.push_back(line(r.name, "[" + bar + "]", percent, r.rows, r.rows_per_second, r.bytes, status));
  }
  const auto& t = view.totals;
  lines.push_back(line("total", std::string(bar_width + 2, ' '), "", t.rows, t.rows_per_second, t.bytes,
                       fmt::format("{}; {}; readers {} active, {} waiting", format_duration(t.elapsed), tables_text(t),
                                   t.readers_active, t.readers_waiting)));
  return lines;
}

std::string render_tty_frame(const std::vector<std::string>& lines, std::size_t previous_lines) {
  std::string out;
  if (previous_lines > 0) out += fmt::format("\x1b[{}A", previous_lines);
  for (const auto& l : lines) {
    out += "\r\x1b[2K";
    out += l;
    out += '\n';
  }
  // A frame with fewer lines than the last one: erase the leftovers, then come back up.
  if (previous_lines > lines.size()) {
    const auto extra = previous_lines - lines.size();
    for (std::size_t i = 0; i < extra; ++i) out += "\r\x1b[2K\n";
    out += fmt::format("\x1b[{}A", extra);
  }
  return out;
}

ProgressMode default_progress_mode() {
  const char* term = std::getenv("TERM");
  if (::isatty(STDERR_FILENO) == 1 && !(term != nullptr && std::strcmp(term, "dumb") == 0)) return ProgressMode::tty;
  return ProgressMode::log;
}

ProgressReporter::ProgressReporter(boost::asio::io_context& io, const engine::Metrics& metrics, ProgressOptions options)
    : metrics_(metrics), options_(std::move(options)), timer_(io) {
  if (options_.interval.count() <= 0) {
    options_.interval =
        options_.mode == ProgressMode::tty ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(5000);
  }
  if (!options_.write) {
    if (options_.mode == ProgressMode::tty) {
      options_.write = [](std::string_view bytes) {
        std::fwrite(bytes.data(), 1, bytes.size(), stderr);
        std::fflush(stderr);
      };
    } else {
      options_.write = [](std::string_view line) { spdlog::info("{}", line); };
    }
  }
  if (!options_.width) {
    options_.width = []() -> std::size_t {
      winsize ws{};
      if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0) return ws.ws_col;
      return 0;
    };
  }
}

void ProgressReporter::tick(bool final) {
  const auto now = Clock::now();
  const auto unix_now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // The final frame / lines stay: show averages over the whole run there, not the last interval.
  const auto view = compute_progress(metrics_, has_previous_ && !final ? &previous_ : nullptr, now, unix_now);
  if (options_.mode == ProgressMode::tty) {
    const auto lines = render_tty_lines(view, options_.width());
    if (options_.terminal) {
      options_.terminal->show(lines);
      if (final) options_.terminal->release();
    } else {
      options_.write(render_tty_frame(lines, drawn_lines_));
    }
    drawn_lines_ = lines.size();
  } else {
    bool any_running = false;
    for (std::size_t i = 0; i < view.rows.size(); ++i) {
      const auto& row = view.rows[i];
      const auto key = row.ns + "." + row.name;
      if (final_reported_.count(key) != 0) continue;
      const bool finished = row.phase == StreamPhase::complete || row.phase == StreamPhase::incomplete;
      any_running = any_running || row.phase == StreamPhase::running;
      if (finished || final) {
        final_reported_.insert(key);
        options_.write(render_log_line(row));
      } else if (row.phase == StreamPhase::running) {
        options_.write(render_log_line(row));
      }
    }
    if (view.rows.size() > 1 && (any_running || final)) options_.write(render_totals_line(view.totals));
  }
  previous_ = take_sample(metrics_, now);
  has_previous_ = true;
}

boost::asio::awaitable<void> ProgressReporter::run() {
  previous_ = take_sample(metrics_, Clock::now());
  has_previous_ = true;
  if (options_.mode == ProgressMode::tty && !stopped_) tick(false);  // show the block at once
  while (!stopped_) {
    timer_.expires_after(options_.interval);
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (stopped_) break;
    tick(false);
  }
  tick(true);
}

void ProgressReporter::stop() {
  stopped_ = true;
  timer_.cancel();
}

}  // namespace sv::telemetry
