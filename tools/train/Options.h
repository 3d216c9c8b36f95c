//===- Options.h - rslc-train's command line, declared as a table ---------===//
//
// Each option is declared once with its name, value name, help and target
// variable; --help lists them with the targets' initial values as defaults,
// and --version prints rslc's version. Parsing is getopt_long's (GNU style:
// `--name value` or `--name=value`); values are checked whole ("12x" is not
// an integer).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_TRAIN_OPTIONS_H
#define RSLC_TRAIN_OPTIONS_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rslc::train {

class OptionTable {
public:
  OptionTable(std::string tool, std::string synopsis) : tool(std::move(tool)), synopsis(std::move(synopsis)) {}

  /// A section heading in --help.
  void group(const std::string &title);
  void add(const std::string &name, const std::string &metavar, const std::string &help,
           std::string &target);
  void add(const std::string &name, const std::string &metavar, const std::string &help,
           double &target);
  void add(const std::string &name, const std::string &metavar, const std::string &help,
           int64_t &target);
  void add(const std::string &name, const std::string &metavar, const std::string &help,
           uint64_t &target);
  /// A flag without a value.
  void add(const std::string &name, const std::string &help, bool &target);

  /// Parses argv into the targets and `positional`. Returns -1 to go on, or
  /// the exit code to end with: 0 after --help or --version, 2 after a
  /// usage error (printed with the tool's name).
  int parse(int argc, char **argv, std::vector<std::string> &positional);

  /// Which options the command line named (after parse).
  bool given(const std::string &name) const;

private:
  struct Option {
    std::string name, metavar, help, defaultText;
    std::function<bool(const std::string &)> set; ///< false: not a valid value
    bool isFlag = false, seen = false;
  };
  void addOption(Option o);
  void printHelp() const;

  std::string tool, synopsis;
  std::vector<Option> options;
  std::vector<std::pair<size_t, std::string>> groups; ///< before option k
};

} // namespace rslc::train

#endif
