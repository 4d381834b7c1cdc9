// src/vitess: the Go connector's state cursor.
#include "vitess/cursor.hpp"

#include "util/base64.hpp"

namespace sv::vitess {

std::string encode_cursor(const TableCursor& cursor) {
  std::string bytes;
  // Fields in number order with no unknown fields: the same bytes Go's proto.Marshal produces.
  cursor.SerializeToString(&bytes);
  return base64_encode(bytes);
}

Result<TableCursor> decode_cursor(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes) return config_error("saved cursor is not valid base64 (" + bytes.error().message + ")");
  TableCursor cursor;
  if (!cursor.ParseFromString(*bytes)) {
    return config_error("saved cursor is not a valid psdbconnect.v1alpha1.TableCursor protobuf");
  }
  return cursor;
}

TableCursor make_cursor(std::string_view keyspace, std::string_view shard, std::string_view position) {
  TableCursor c;
  c.set_shard(std::string(shard));
  c.set_keyspace(std::string(keyspace));
  c.set_position(std::string(position));
  return c;
}

}  // namespace sv::vitess
