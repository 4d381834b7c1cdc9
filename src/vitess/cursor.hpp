// src/vitess: the Go connector's per-shard state cursor — base64 (standard, padded) of a
// protobuf psdbconnect.v1alpha1.TableCursor {shard, keyspace, position, last_known_pk} — kept
// byte-compatible so state moves between the Go connector and this one in both directions.
#pragma once

#include <string>
#include <string_view>

#include "psdbconnect.pb.h"
#include "util/result.hpp"

namespace sv::vitess {

using TableCursor = psdbconnect::v1alpha1::TableCursor;

//! Serializes a cursor the way the Go connector does (protobuf binary, then std base64).
std::string encode_cursor(const TableCursor& cursor);

//! Parses a saved cursor string. Errors (config_error: the state is the user's input) say whether
//! the base64 or the protobuf is broken. The empty string decodes to an empty cursor, as in Go.
Result<TableCursor> decode_cursor(std::string_view text);

//! The cursor carries a last_known_pk row: a table copy stopped there and resumes after it.
inline bool has_last_pk(const TableCursor& c) { return c.has_last_known_pk() && c.last_known_pk().rows_size() > 0; }

//! The shard's table copy is not finished: no position yet (copy from the start), or a copy
//! that resumes after last_known_pk.
inline bool copy_pending(const TableCursor& c) { return c.position().empty() || has_last_pk(c); }

//! A fresh cursor for a shard: no position (copy from the start) unless `position` is given.
TableCursor make_cursor(std::string_view keyspace, std::string_view shard, std::string_view position = {});

}  // namespace sv::vitess
