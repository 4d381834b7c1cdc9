// tests/extract: the extract's row writers (src/extract/row_writers.hpp): exact bytes of JSONL
// lines and CSV records rendered straight from a decoded row, and CSV's identity with the JSONL
// object passed through util/csv (the rule docs/extract.md states).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "extract/row_writers.hpp"
#include "util/csv.hpp"

using namespace sv;

namespace {

vitess::Column column(const std::string& name, query::Type type, const std::string& column_type) {
  query::Field f;
  f.set_name(name);
  f.set_type(type);
  f.set_column_type(column_type);
  f.set_charset(type == query::VARBINARY ? 63 : 255);
  return vitess::make_column(f, vitess::ValueOptions{});
}

//! A row of (id bigint, name varchar, flag tinyint(1), blob varbinary), selecting id, name, blob.
struct Row {
  std::vector<vitess::Column> columns{
      column("id", query::INT64, "bigint"), column("name", query::VARCHAR, "varchar(20)"),
      column("flag", query::INT8, "tinyint(1)"), column("blob", query::VARBINARY, "varbinary(8)")};
  std::optional<std::string> name;
  std::string blob;
  std::vector<std::uint32_t> selection{0, 1, 3};
  engine::RowMetadata metadata{1700000000000000000, 7, "MySQL56/u:1-5"};
  mutable std::vector<vitess::Cell> cells;  //!< point into this Row's strings

  engine::RowView view(bool with_computed) const {
    cells = {vitess::Cell{"42", false}, name ? vitess::Cell{*name, false} : vitess::Cell{{}, true},
             vitess::Cell{"1", false}, vitess::Cell{blob, false}};
    engine::RowView v;
    v.emitted_at = 1700000000000;
    v.columns = columns;
    v.cells = cells;
    v.selection = selection;
    if (with_computed) {
      v.updated_at = engine::ComputedText{true, false, "2023-11-14T22:13:20Z"};
      v.deleted_at = engine::ComputedText{true, true, {}};
      v.metadata = &metadata;
    }
    return v;
  }
};

Row row_of(std::optional<std::string> name, std::string blob = "ABC") {
  Row r;
  r.name = std::move(name);
  r.blob = std::move(blob);
  return r;
}

const std::string kQuoted = "say \"hi\", bye\r\n";

}  // namespace

TEST_CASE("jsonl: the row's data object, one line each; take() hands them over and starts over") {
  auto w = extract::make_jsonl_writer();
  const Row a = row_of(kQuoted);
  const Row b = row_of(std::nullopt);
  w->write(a.view(false));
  w->write(b.view(true));
  CHECK(w->count() == 2);
  CHECK(w->take() ==
        "{\"id\":42,\"name\":\"say \\\"hi\\\", bye\\r\\n\",\"blob\":\"QUJD\"}\n"
        "{\"id\":42,\"name\":null,\"blob\":\"QUJD\",\"_ab_cdc_updated_at\":\"2023-11-14T22:13:20Z\","
        "\"_ab_cdc_deleted_at\":null,\"_planetscale_metadata\":{\"extracted_at\":1700000000000000000,"
        "\"sequence_number\":7,\"vgtid_position\":\"MySQL56/u:1-5\"}}\n");
  CHECK(w->count() == 0);
  CHECK(w->take().empty());
}

TEST_CASE("csv: fields in the columns' order, missing ones empty, members not in the columns left out") {
  auto w = extract::make_csv_writer(
      {"_ab_cdc_updated_at", "blob", "absent", "id", "name", "_planetscale_metadata", "_ab_cdc_deleted_at"});
  const Row a = row_of(kQuoted);
  const Row b = row_of(std::nullopt);
  w->write(a.view(false));
  w->write(b.view(true));
  CHECK(w->count() == 2);
  CHECK(w->take() ==
        ",\"QUJD\",,42,\"say \"\"hi\"\", bye\r\n\",,\r\n"
        "\"2023-11-14T22:13:20Z\",\"QUJD\",,42,,\"{\"\"extracted_at\"\":1700000000000000000,"
        "\"\"sequence_number\"\":7,\"\"vgtid_position\"\":\"\"MySQL56/u:1-5\"\"}\",\r\n");
  CHECK(w->count() == 0);
  CHECK(w->take().empty());
}

TEST_CASE("csv: each record is what util/csv makes of the JSONL line of the same row") {
  const std::vector<std::string> columns{
      "id", "name", "blob", "_ab_cdc_updated_at", "_ab_cdc_deleted_at", "_planetscale_metadata"};
  const std::string invalid_utf8 = "caf\xe9 \"x\"";
  for (const std::optional<std::string>& name :
       {std::optional<std::string>(kQuoted), std::optional<std::string>(), std::optional<std::string>(invalid_utf8),
        std::optional<std::string>("")}) {
    for (bool computed : {false, true}) {
      const Row r = row_of(name, std::string("\0\xff", 2));
      auto jsonl = extract::make_jsonl_writer();
      auto csv = extract::make_csv_writer(columns);
      jsonl->write(r.view(computed));
      csv->write(r.view(computed));
      std::string line = jsonl->take();
      line.pop_back();  // '\n'
      std::string expected;
      REQUIRE(csv::append_row_from_json(expected, line, columns).ok());
      CAPTURE(line);
      CHECK(csv->take() == expected);
    }
  }
}
