// help_format: the shape of every subcommand's --help: description, the usage line we
// write (CLI11's generated one cannot show "-- CMD [ARGS...]"), options, footer.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace gilwatch::harness {

class SubcommandHelp final : public CLI::Formatter {
 public:
  explicit SubcommandHelp(std::string usage) : usage_(std::move(usage)) { column_width(32); }
  std::string make_usage(const CLI::App*, std::string) const override { return "\n" + usage_ + "\n"; }

 private:
  std::string usage_;
};

inline void use_subcommand_help(CLI::App& app, const std::string& usage) {
  app.formatter(std::make_shared<SubcommandHelp>(usage));
}

}  // namespace gilwatch::harness
