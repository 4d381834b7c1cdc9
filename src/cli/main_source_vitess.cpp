// source-vitess's main: the program is sv::cli::source_vitess_main (source_vitess.cpp).
#include "cli/programs.hpp"

int main(int argc, char** argv) { return sv::cli::source_vitess_main(argc, argv); }
