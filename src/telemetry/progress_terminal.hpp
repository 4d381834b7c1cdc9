// src/telemetry: stderr on a terminal shared by log lines and the progress block.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sv::telemetry {

//! An spdlog sink for a terminal that also shows the progress block: a log line first erases the
//! block, is printed, and the block is drawn again below it, so the redraw never overwrites log
//! lines (which a plain stderr sink beside a redrawn block would). Thread-safe: loggers on other
//! threads and the reporter on the io thread take the same mutex. Colors the level like spdlog's
//! color sink (the pattern's %^...%$ range).
class ProgressTerminal : public spdlog::sinks::base_sink<std::mutex> {
 public:
  //! `write` receives the raw bytes; default: stderr (fwrite + fflush).
  explicit ProgressTerminal(std::function<void(std::string_view)> write = {});

  //! Draws `lines` in place of the block shown last (below the cursor the first time).
  void show(const std::vector<std::string>& lines);
  //! Leaves the last block on screen as it is; later log lines go below it.
  void release();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::function<void(std::string_view)> write_;
  std::vector<std::string> lines_;  //!< the block on screen now (empty = none)
};

//! Makes a ProgressTerminal the only sink of spdlog's default logger, with `pattern` (the CLI's
//! log pattern), and returns it for ProgressOptions::terminal. Call before other threads log.
std::shared_ptr<ProgressTerminal> install_progress_terminal(const std::string& pattern);

}  // namespace sv::telemetry
