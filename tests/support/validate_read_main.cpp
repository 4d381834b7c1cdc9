// tests/support/validate_read_main.cpp — `validate-read STDOUT_FILE CATALOG_FILE [--allow-truncated]
// [--allow-extra-columns]`: the project's read-output validator (protocol_validator.hpp) as a
// program, for test drivers written in Python (tests/soak). Prints one problem per line on stdout;
// exit 0 = no problem, 1 = problems, 2 = usage or unreadable file. --allow-truncated drops only the
// "has no terminal status" problems and a missing final newline, which a connector killed with
// SIGKILL leaves. --allow-extra-columns accepts record columns the catalog does not declare: for a
// catalog with empty properties, which asks the connector for every column of the table (the soak
// on the synthetic backend, which has no MySQL front to discover the columns with).
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
  bool allow_truncated = false, allow_extra_columns = false, usage = argc < 3;
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--allow-truncated") {
      allow_truncated = true;
    } else if (flag == "--allow-extra-columns") {
      allow_extra_columns = true;
    } else {
      usage = true;
    }
  }
  if (usage) {
    std::cerr << "usage: validate-read STDOUT_FILE CATALOG_FILE [--allow-truncated] [--allow-extra-columns]\n";
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
  const auto report = sv::testing::validate_read_output(text, catalog, allow_extra_columns);
  int shown = 0;
  for (const auto& p : report.problems) {
    if (allow_truncated && truncation_problem(p)) continue;
    std::cout << p << "\n";
    ++shown;
  }
  return shown == 0 ? 0 : 1;
}
