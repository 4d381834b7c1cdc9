// src/extract: the extract's row formats, supplied to the engine by FileOutput::row_writer:
// JSONL (each row's data object, as `read` writes it in a RECORD) and CSV (one RFC 4180 record
// per row, fields in the catalog's column order, written straight from the values; the rules are
// util/csv.hpp's, docs/extract.md lists them).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/row_writer.hpp"

namespace sv::extract {

//! `{"id":1,"name":"a"}\n` per row.
std::unique_ptr<engine::RowWriter> make_jsonl_writer();

//! One CSV record (CRLF) per row with one field per entry of `columns`: a column the row does not
//! have is an empty field, a member of the row not in `columns` is left out.
std::unique_ptr<engine::RowWriter> make_csv_writer(std::vector<std::string> columns);

}  // namespace sv::extract
