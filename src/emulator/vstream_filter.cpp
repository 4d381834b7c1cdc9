// src/emulator/vstream_filter.cpp — a filter rule's select list (`SELECT `a`, b FROM t`): its
// parsing, its projection onto a table's schema as vttablet's vstreamer plans it, and the selected
// columns of a row. Session (vstream_session.cpp) applies them to FIELD and ROW events.
#include "emulator/vstream_session.hpp"

#include <cctype>

namespace sv::emulator {

namespace detail {

namespace {

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

//! Reads an identifier at `at` (bare or `quoted`); empty optional when there is none.
std::optional<std::string> read_ident(std::string_view s, std::size_t& at) {
  if (at < s.size() && s[at] == '`') {
    std::string out;
    for (std::size_t i = at + 1; i < s.size(); ++i) {
      if (s[i] != '`') {
        out.push_back(s[i]);
        continue;
      }
      if (i + 1 < s.size() && s[i + 1] == '`') {
        out.push_back('`');
        ++i;
        continue;
      }
      at = i + 1;
      return out;
    }
    return std::nullopt;  // unterminated
  }
  std::size_t end = at;
  while (end < s.size() && ident_char(s[end])) ++end;
  if (end == at) return std::nullopt;
  std::string out(s.substr(at, end - at));
  at = end;
  return out;
}

void skip_space(std::string_view s, std::size_t& at) {
  while (at < s.size() && std::isspace(static_cast<unsigned char>(s[at]))) ++at;
}

bool keyword(std::string_view s, std::size_t& at, std::string_view word) {
  skip_space(s, at);
  if (s.size() - at < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[at + i])) != word[i]) return false;
  }
  if (at + word.size() < s.size() && ident_char(s[at + word.size()])) return false;
  at += word.size();
  return true;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

//! sqlparser.String of an IdentifierCI: bare when it is a plain identifier, else `quoted`.
std::string sql_ident(const std::string& name) {
  const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  }) && !std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (plain) return name;
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  return out + "`";
}

}  // namespace

std::optional<std::vector<std::string>> parse_select_list(std::string_view filter) {
  std::size_t at = 0;
  if (!keyword(filter, at, "select")) return std::nullopt;
  skip_space(filter, at);
  if (at < filter.size() && filter[at] == '*') return std::nullopt;
  std::vector<std::string> cols;
  for (;;) {
    skip_space(filter, at);
    auto name = read_ident(filter, at);
    if (!name) return std::nullopt;
    cols.push_back(std::move(*name));
    skip_space(filter, at);
    if (at < filter.size() && filter[at] == ',') {
      ++at;
      continue;
    }
    break;
  }
  if (!keyword(filter, at, "from")) return std::nullopt;
  skip_space(filter, at);
  if (!read_ident(filter, at)) return std::nullopt;
  skip_space(filter, at);
  if (at != filter.size()) return std::nullopt;  // WHERE …: not a plain select list
  return cols;
}

sv::Result<Projection> project_schema(const Rule& rule, const TableSchema& schema) {
  if (!rule.columns) return Projection{};
  std::vector<std::size_t> out;
  for (const auto& name : *rule.columns) {
    std::size_t i = 0;
    while (i < schema.fields.size() && !iequal(schema.fields[i].name(), name)) ++i;
    if (i == schema.fields.size()) {
      return sv::system_error("column " + sql_ident(name) + " not found in table " + schema.name);
    }
    out.push_back(i);
  }
  return Projection{std::move(out)};
}

query::Row project_row(const query::Row& row, const Projection& p) {
  if (!p) return row;
  std::vector<std::pair<std::int64_t, std::size_t>> spans;  // (length, offset) per column
  std::size_t off = 0;
  for (int i = 0; i < row.lengths_size(); ++i) {
    spans.emplace_back(row.lengths(i), off);
    if (row.lengths(i) > 0) off += static_cast<std::size_t>(row.lengths(i));
  }
  query::Row out;
  for (std::size_t c : *p) {
    const auto [len, at] = c < spans.size() ? spans[c] : std::pair<std::int64_t, std::size_t>{-1, 0};
    out.add_lengths(len);
    if (len > 0) out.mutable_values()->append(row.values(), at, static_cast<std::size_t>(len));
  }
  return out;
}

}  // namespace detail

}  // namespace sv::emulator
