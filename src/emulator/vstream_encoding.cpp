// src/emulator/vstream_encoding.cpp — the shared helpers of the VStream service declared in
// vstream_session.hpp: clock, varint and response encoding (zero-copy gRPC slices), PK value
// comparison and the pre-v20 ENUM/SET numbering.
#include "emulator/vstream_session.hpp"

namespace sv::emulator::detail {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

grpc::ByteBuffer to_buffer(const Outgoing& out, std::size_t max_events) {
  std::vector<grpc::Slice> slices;
  for (const auto& p : out.pieces) {
    if (max_events == 0) break;
    std::size_t take = std::min(max_events, p.events());
    max_events -= take;
    std::size_t len = (*p.ends)[take - 1];
    // Zero-copy: the slice keeps the shared bytes alive.
    auto* keep = new std::shared_ptr<const std::string>(p.bytes);
    slices.emplace_back(
        const_cast<char*>(p.bytes->data()), len,
        [](void* k) { delete static_cast<std::shared_ptr<const std::string>*>(k); }, keep);
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

bool is_integral(query::Type t) { return (static_cast<int>(t) & static_cast<int>(query::ISINTEGRAL)) != 0; }
bool is_unsigned(query::Type t) { return (static_cast<int>(t) & static_cast<int>(query::ISUNSIGNED)) != 0; }

int compare_value(query::Type type, const std::string& a, const std::string& b) {
  if (is_integral(type)) {
    if (is_unsigned(type)) {
      std::uint64_t x = 0, y = 0;
      std::from_chars(a.data(), a.data() + a.size(), x);
      std::from_chars(b.data(), b.data() + b.size(), y);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    std::int64_t x = 0, y = 0;
    std::from_chars(a.data(), a.data() + a.size(), x);
    std::from_chars(b.data(), b.data() + b.size(), y);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

query::Row enum_set_to_numbers(const query::Row& row, const TableSchema& schema) {
  std::vector<std::optional<std::string>> cells;
  std::size_t off = 0;
  for (int i = 0; i < row.lengths_size(); ++i) {
    const std::int64_t len = row.lengths(i);
    if (len < 0) {
      cells.emplace_back(std::nullopt);
      continue;
    }
    std::string v = row.values().substr(off, static_cast<std::size_t>(len));
    off += static_cast<std::size_t>(len);
    const auto& f = schema.fields[static_cast<std::size_t>(i)];
    if (f.type() == query::ENUM) {
      auto labels = enum_labels(f.column_type());
      auto it = std::find(labels.begin(), labels.end(), v);
      v = std::to_string(it == labels.end() ? 0 : (it - labels.begin()) + 1);
    } else if (f.type() == query::SET) {
      auto labels = enum_labels(f.column_type());
      std::uint64_t mask = 0;
      for (std::size_t bit = 0; bit < labels.size(); ++bit) {
        // SET values are the members in definition order joined by ','; members cannot contain ','.
        std::size_t start = 0;
        while (start <= v.size()) {
          std::size_t comma = v.find(',', start);
          std::string member = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!v.empty() && member == labels[bit]) mask |= (1ULL << bit);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      v = std::to_string(mask);
    }
    cells.emplace_back(std::move(v));
  }
  query::Row out;
  for (const auto& c : cells) {
    out.add_lengths(c ? static_cast<std::int64_t>(c->size()) : -1);
    if (c) out.mutable_values()->append(*c);
  }
  return out;
}

}  // namespace sv::emulator::detail
