// tests/socket: the former JSON-rendering PROTOBUF record writer, the oracle of the direct encoder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "airbyte/messages.hpp"
#include "engine/row_writer.hpp"
#include "socket/record_writers.hpp"

namespace sv::socket::oracle {

//! The same contract as make_protobuf_record_writer, by way of the JSON value writer.
std::unique_ptr<engine::RowWriter> make_protobuf_record_writer_via_json(
    const airbyte::StreamDescriptor& stream, const std::vector<std::string>& properties,
    const std::vector<std::string>& plain_string_columns = {});

}  // namespace sv::socket::oracle
