// vtgate-emulator's main: the program is sv::cli::vtgate_emulator_main (vtgate_emulator.cpp).
#include "cli/programs.hpp"

int main(int argc, char** argv) { return sv::cli::vtgate_emulator_main(argc, argv); }
