// src/cli: `source-vitess extract`, the bulk dump of a keyspace to files. It discovers the
// tables, resumes from DIR/_state.json, runs the same engine as `read` with the extract's
// FileOutput, shows progress on stderr and prints one JSON summary line on stdout.
#pragma once

namespace sv::cli {

//! The log line pattern of both programs' stderr (set by main, reused by the progress terminal).
inline constexpr const char* kLogPattern = "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v";

//! argv[1] is "extract". Returns the exit code: 0 done (or --follow stopped by a signal),
//! 1 failed or interrupted (rerun to resume), 2 usage error.
int run_extract(int argc, char** argv);

}  // namespace sv::cli
