// src/cli: the command-line scanner (see args.hpp).
#include "cli/args.hpp"

#include <algorithm>

namespace sv::cli {

namespace {

const OptionSpec* find_option(std::span<const OptionSpec> options, std::string_view name) {
  auto it = std::find_if(options.begin(), options.end(), [&](const OptionSpec& o) { return o.name == name; });
  return it == options.end() ? nullptr : &*it;
}

const OptionSpec* find_alias(std::span<const OptionSpec> options, std::string_view arg) {
  auto it = std::find_if(options.begin(), options.end(),
                         [&](const OptionSpec& o) { return !o.alias.empty() && o.alias == arg; });
  return it == options.end() ? nullptr : &*it;
}

}  // namespace

std::vector<ArgItem> scan_args(std::span<char* const> args, std::span<const OptionSpec> options) {
  using Kind = ArgItem::Kind;
  std::vector<ArgItem> items;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (const OptionSpec* alias = find_alias(options, arg)) {
      items.push_back({Kind::option, std::string(alias->name), std::nullopt});
      continue;
    }
    if (!arg.starts_with("--")) {
      items.push_back({Kind::positional, std::string(arg), std::nullopt});
      continue;
    }
    std::string name(arg.substr(2));
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = find_option(options, name);
    if (spec == nullptr) {
      items.push_back({Kind::unknown_option, std::move(name), std::nullopt});
      continue;
    }
    switch (spec->value) {
      case OptionValue::none:
        if (value) {
          items.push_back({Kind::unexpected_value, std::move(name), std::move(value)});
          continue;
        }
        break;
      case OptionValue::required:
        if (!value) {
          if (i + 1 >= args.size()) {
            items.push_back({Kind::missing_value, std::move(name), std::nullopt});
            continue;
          }
          value = std::string(args[++i]);
        }
        break;
      case OptionValue::inline_only: break;
    }
    items.push_back({Kind::option, std::move(name), std::move(value)});
  }
  return items;
}

}  // namespace sv::cli
