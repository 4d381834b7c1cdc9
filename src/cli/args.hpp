// src/cli: the one command-line scanner of source-vitess (every subcommand) and vtgate-emulator.
// It splits argv into positionals and `--name value` / `--name=value` options against a table of
// known options and reports what is wrong as typed items; each program turns those into its own
// messages and exit codes (protocol answers for source-vitess, `die` for the emulator), which is
// why the scanner formats nothing itself.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sv::cli {

//! Whether an option takes a value.
enum class OptionValue {
  none,         //!< a flag; `--flag=x` is an unexpected_value item
  required,     //!< `--name value` or `--name=value`; missing_value when argv ends first
  inline_only,  //!< a flag that may also be given as `--name=value` (no separate argument)
};

struct OptionSpec {
  std::string_view name;  //!< without the leading "--"
  OptionValue value = OptionValue::required;
  std::string_view alias = {};  //!< a whole argument meaning the same, e.g. "-h" for help
};

//! One scanned argument.
struct ArgItem {
  enum class Kind {
    positional,        //!< `text` is the argument (anything not starting with "--", nor an alias)
    option,            //!< `text` is the option's name, `value` its value (none for a flag)
    unknown_option,    //!< `text` is the name after "--" (value not consumed)
    missing_value,     //!< `text` is a required-value option's name, at the end of argv
    unexpected_value,  //!< `text` is a flag's name given as `--flag=value`
  };
  Kind kind = Kind::positional;
  std::string text;
  std::optional<std::string> value;
};

//! Scans `args` (argv without the program and the arguments the caller already took) in order.
//! A required value is the text after "=" or else the next argument, whatever it looks like.
std::vector<ArgItem> scan_args(std::span<char* const> args, std::span<const OptionSpec> options);

}  // namespace sv::cli
