// tests/cli: the command-line scanner (src/cli/args.*) that source-vitess and vtgate-emulator
// share: positionals, `--name value`, `--name=value`, flags, aliases and each kind of problem.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/args.hpp"

using sv::cli::ArgItem;
using sv::cli::OptionSpec;
using sv::cli::OptionValue;
using sv::cli::scan_args;
using Kind = ArgItem::Kind;

namespace {

constexpr OptionSpec kOptions[] = {
    {"help", OptionValue::none, "-h"},
    {"config"},
    {"follow", OptionValue::none},
    {"tcp-proxy", OptionValue::inline_only},
};

//! The items of `args` as "kind:text[=value]" strings.
std::vector<std::string> scan(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::vector<std::string> out;
  for (const auto& item : scan_args(argv, kOptions)) {
    static const char* const kNames[] = {"positional", "option", "unknown", "missing", "unexpected"};
    std::string text = std::string(kNames[static_cast<int>(item.kind)]) + ":" + item.text;
    if (item.value) text += "=" + *item.value;
    out.push_back(text);
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("scan_args: positionals, values after a space or '=', flags and aliases, in order") {
  CHECK(scan({"check", "--config", "c.json", "extra"}) ==
        V{"positional:check", "option:config=c.json", "positional:extra"});
  CHECK(scan({"--config=c.json"}) == V{"option:config=c.json"});
  CHECK(scan({"--config="}) == V{"option:config="});
  CHECK(scan({"--config", "--follow"}) == V{"option:config=--follow"});  // a value is the next argument, whatever it is
  CHECK(scan({"-h", "--help", "--follow"}) == V{"option:help", "option:help", "option:follow"});
  CHECK(scan({"--tcp-proxy", "x"}) == V{"option:tcp-proxy", "positional:x"});
  CHECK(scan({"--tcp-proxy=1"}) == V{"option:tcp-proxy=1"});
  CHECK(scan({"-x", "-"}) == V{"positional:-x", "positional:-"});
  CHECK(scan({}) == V{});
}

TEST_CASE("scan_args: unknown options, a missing value and a flag given a value are items, not stops") {
  CHECK(scan({"--bogus", "c.json"}) == V{"unknown:bogus", "positional:c.json"});  // nothing consumed
  CHECK(scan({"--bogus=1"}) == V{"unknown:bogus"});
  CHECK(scan({"--"}) == V{"unknown:"});
  CHECK(scan({"read", "--config"}) == V{"positional:read", "missing:config"});
  CHECK(scan({"--follow=yes", "--help=1"}) == V{"unexpected:follow=yes", "unexpected:help=1"});
}
