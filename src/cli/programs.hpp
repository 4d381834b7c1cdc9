// src/cli: the programs' entry points. Each main (main_*.cpp) only calls its function here, so
// that the commands live in the sv_cli / sv_emulator_cli libraries.
#pragma once

namespace sv::cli {

//! source-vitess: spec, check, discover, read, extract. Returns the process exit code.
int source_vitess_main(int argc, char** argv);

//! vtgate-emulator: the test vtgate. Returns the process exit code.
int vtgate_emulator_main(int argc, char** argv);

}  // namespace sv::cli
