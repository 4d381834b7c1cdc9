// tests/support/validate_read_main.cpp — `validate-read STDOUT_FILE CATALOG_FILE [--allow-truncated]`:
// the project's read-output validator (protocol_validator.hpp) as a program, for test drivers
// written in Python (tests/soak). Prints one problem per line on stdout; exit 0 = no problem,
// 1 = problems, 2 = usage or unreadable file. --allow-truncated drops only the "has no terminal
// status" problems and a missing final newline, which a connector killed with SIGKILL leaves.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "protocol_validator.hpp"

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

bool truncation_problem(const std::string& p) {
  return p == "stdout does not end with a newline" || p.ends_with(" has no terminal status");
}

}  // namespace

int main(int argc, char** argv) {
  const bool allow_truncated = argc == 4 && std::string(argv[3]) == "--allow-truncated";
  if (argc != 3 && !allow_truncated) {
    std::cerr << "usage: validate-read STDOUT_FILE CATALOG_FILE [--allow-truncated]\n";
    return 2;
  }
  std::string out, catalog;
  if (!read_file(argv[1], out) || !read_file(argv[2], catalog)) {
    std::cerr << "validate-read: cannot read " << argv[1] << " or " << argv[2] << "\n";
    return 2;
  }
  std::string text = out;
  // A killed process can stop in the middle of a line: validate the complete lines only.
  if (allow_truncated && !text.empty() && text.back() != '\n') text.erase(text.rfind('\n') + 1);
  const auto report = sv::testing::validate_read_output(text, catalog);
  int shown = 0;
  for (const auto& p : report.problems) {
    if (allow_truncated && truncation_problem(p)) continue;
    std::cout << p << "\n";
    ++shown;
  }
  return shown == 0 ? 0 : 1;
}
