// Unit tests of the subcommand table (harness/cli/cli): a misspelt subcommand.
#include "report_side_fixtures.h"

TEST_CASE("a misspelt subcommand gets the closest real one", "[cli]") {
  auto suggestion = [](const std::string& name) {
    const Subcommand* s = suggest_subcommand(name);
    return s ? std::string(s->name) : std::string("(none)");
  };
  CHECK(suggestion("rnu") == "run");
  CHECK(suggestion("rum") == "run");
  CHECK(suggestion("reprot") == "report");
  CHECK(suggestion("rep") == "report");  // a prefix
  CHECK(suggestion("r") == "(none)");    // a prefix of both
  CHECK(suggestion("stressful") == "(none)");
}
