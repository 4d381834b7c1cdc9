// tests/fuzz: libFuzzer target for the GTID set parsers: the connector's (src/vitess/gtid.*) and
// the emulator's (src/emulator/gtid.*). The input is one position, or two separated by a newline.
// Accepted sets must print in canonical form and parse back to themselves; union and containment
// must agree; a position the emulator accepts, the connector accepts as the same set.
#include <string>

#include "emulator/gtid.hpp"
#include "fuzz_support.hpp"
#include "vitess/gtid.hpp"

namespace {

void check_connector(const sv::vitess::GtidSet& a) {
  const auto again = sv::vitess::GtidSet::parse(a.to_string());
  svfuzz::expect(again.ok() && *again == a, "connector: a set parses back from to_string()");
  svfuzz::expect(a.contains(a), "connector: a set contains itself");
  svfuzz::expect(sv::vitess::set_union(a, a) == a, "connector: a ∪ a = a");
}

void check_emulator(const sv::emulator::GtidSet& a) {
  const auto again = sv::emulator::GtidSet::parse(a.to_string());
  svfuzz::expect(again.ok() && *again == a, "emulator: a set parses back from to_string()");
  svfuzz::expect(a.contains(a), "emulator: a set contains itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = svfuzz::text(data, size);
  const std::size_t nl = input.find('\n');
  const std::string_view first = input.substr(0, nl);
  const std::string_view second = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);

  const auto a = sv::vitess::GtidSet::parse(first);
  if (a) {
    check_connector(*a);
  } else {
    svfuzz::expect_config_error(a.error());
  }
  const auto ea = sv::emulator::GtidSet::parse(first);
  if (ea) {
    check_emulator(*ea);
    svfuzz::expect(a.ok(), "a position the emulator accepts, the connector accepts");
    svfuzz::expect(a->to_string() == ea->to_string(), "connector and emulator print a set alike");
  }
  if (nl == std::string_view::npos) return 0;

  const auto b = sv::vitess::GtidSet::parse(second);
  if (a && b) {
    check_connector(*b);
    const auto u = sv::vitess::set_union(*a, *b);
    svfuzz::expect(u.contains(*a) && u.contains(*b), "connector: a ∪ b contains a and b");
    svfuzz::expect(a->contains(*b) == (u == *a), "connector: a ⊇ b iff a ∪ b = a");
    const auto pc = sv::vitess::position_contains(first, second);
    svfuzz::expect(pc.ok() && *pc == a->contains(*b), "connector: position_contains agrees with contains");
  }
  const auto eb = sv::emulator::GtidSet::parse(second);
  if (ea && eb) {
    sv::emulator::GtidSet u = *ea;
    u.add(*eb);
    svfuzz::expect(u.contains(*ea) && u.contains(*eb), "emulator: a ∪ b contains a and b");
    svfuzz::expect(ea->contains(*eb) == (u == *ea), "emulator: a ⊇ b iff a ∪ b = a");
  }
  return 0;
}
