// The validator must catch each rule it claims to check; otherwise every e2e test built on it
// could pass vacuously.
#include <doctest/doctest.h>

#include <string>

#include "protocol_validator.hpp"

using sv::testing::validate_read_output;

namespace {

const std::string catalog = R"({"streams":[
  {"stream":{"name":"users","namespace":"shop","json_schema":{"type":"object","properties":{
     "id":{"type":["number"],"airbyte_type":"integer"},"email":{"type":["null","string"]}}},
   "supported_sync_modes":["full_refresh","incremental"]},
   "sync_mode":"incremental","destination_sync_mode":"append"}]})";

std::string status(const std::string& s) {
  return R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1.7e12,"stream_status":{"stream_descriptor":{"name":"users","namespace":"shop"},"status":")" +
         s + "\"}}}\n";
}
std::string record(const std::string& data) {
  return R"({"type":"RECORD","record":{"stream":"users","namespace":"shop","emitted_at":1700000000000,"data":)" + data +
         "}}\n";
}
std::string state(double count) {
  return R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"shop"},"stream_state":{"shards":{}}},"sourceStats":{"recordCount":)" +
         std::to_string(count) + "}}}\n";
}

}  // namespace

TEST_CASE("a well-formed read passes and is summarized per stream") {
  const std::string out = status("STARTED") + record(R"({"id":1,"email":"a@x"})") + record(R"({"id":2,"email":null})") +
                          state(2) + status("COMPLETE");
  auto report = validate_read_output(out, catalog);
  CHECK(report.problems.empty());
  const auto& users = report.streams.at("shop.users");
  CHECK(users.records.size() == 2);
  CHECK(users.records[1] == R"({"id":2,"email":null})");
  CHECK(users.states.size() == 1);
  CHECK(users.record_count_sum == 2);
  CHECK(users.statuses == std::vector<std::string>{"STARTED", "COMPLETE"});
}

TEST_CASE("each broken rule is reported") {
  auto problems_of = [](const std::string& out) { return validate_read_output(out, catalog).problems.size(); };
  SUBCASE("record before STARTED") {
    CHECK(problems_of(record(R"({"id":1})") + status("STARTED") + state(1) + status("COMPLETE")) >= 1);
  }
  SUBCASE("wrong recordCount") {
    CHECK(problems_of(status("STARTED") + record(R"({"id":1})") + state(2) + status("COMPLETE")) == 1);
  }
  SUBCASE("legacy state") {
    CHECK(problems_of(status("STARTED") + "{\"type\":\"STATE\",\"state\":{\"data\":{}}}\n" + status("COMPLETE")) == 1);
  }
  SUBCASE("no terminal status") { CHECK(problems_of(status("STARTED")) == 1); }
  SUBCASE("two terminal statuses") {
    CHECK(problems_of(status("STARTED") + status("COMPLETE") + status("INCOMPLETE")) >= 1);
  }
  SUBCASE("records after the last STATE of a COMPLETE stream") {
    CHECK(problems_of(status("STARTED") + record(R"({"id":1})") + status("COMPLETE")) == 1);
  }
  SUBCASE("schema: string where an integer is declared, and an undeclared column") {
    CHECK(problems_of(status("STARTED") + record(R"({"id":"1","zip":5})") + state(1) + status("COMPLETE")) == 2);
  }
  SUBCASE("non-JSON line on stdout") { CHECK(problems_of(status("STARTED") + "hello\n" + status("COMPLETE")) == 1); }
  SUBCASE("unknown stream") {
    CHECK(problems_of(status("STARTED") +
                      R"({"type":"RECORD","record":{"stream":"other","namespace":"shop","emitted_at":1,"data":{}}})" +
                      "\n" + status("COMPLETE")) == 1);
  }
}
