//===- Options.cpp - a table of options over getopt_long -------------------===//
#include "Options.h"

#include <getopt.h>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#ifndef RSLC_VERSION
#define RSLC_VERSION "unknown"
#endif

namespace rslc::train {

namespace {
std::string realText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
bool parseReal(const std::string &s, double &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return *end == '\0' && errno != ERANGE && std::isfinite(out);
}
bool parseInt(const std::string &s, int64_t &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  out = v;
  return *end == '\0' && errno != ERANGE;
}
bool parseUnsigned(const std::string &s, uint64_t &out) {
  if (s.empty() || s[0] == '-')
    return false;
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  out = v;
  return *end == '\0' && errno != ERANGE;
}
} // namespace

void OptionTable::group(const std::string &title) { groups.push_back({options.size(), title}); }

void OptionTable::addOption(Option o) { options.push_back(std::move(o)); }

void OptionTable::add(const std::string &name, const std::string &metavar, const std::string &help,
                      std::string &target) {
  addOption({name, metavar, help, target, [&target](const std::string &v) {
               target = v;
               return true;
             }});
}
void OptionTable::add(const std::string &name, const std::string &metavar, const std::string &help,
                      double &target) {
  addOption({name, metavar, help, realText(target),
             [&target](const std::string &v) { return parseReal(v, target); }});
}
void OptionTable::add(const std::string &name, const std::string &metavar, const std::string &help,
                      int64_t &target) {
  addOption({name, metavar, help, std::to_string(target),
             [&target](const std::string &v) { return parseInt(v, target); }});
}
void OptionTable::add(const std::string &name, const std::string &metavar, const std::string &help,
                      uint64_t &target) {
  addOption({name, metavar, help, std::to_string(target),
             [&target](const std::string &v) { return parseUnsigned(v, target); }});
}
void OptionTable::add(const std::string &name, const std::string &help, bool &target) {
  Option o{name, "", help, "", [&target](const std::string &) {
             target = true;
             return true;
           }};
  o.isFlag = true;
  addOption(std::move(o));
}

bool OptionTable::given(const std::string &name) const {
  for (const Option &o : options)
    if (o.name == name)
      return o.seen;
  return false;
}

void OptionTable::printHelp() const {
  std::printf("%s\n\nOptions:\n", synopsis.c_str());
  size_t g = 0;
  for (size_t k = 0; k < options.size(); ++k) {
    for (; g < groups.size() && groups[g].first == k; ++g)
      std::printf("\n  %s:\n", groups[g].second.c_str());
    const Option &o = options[k];
    std::string left = "--" + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
    std::string help = o.help;
    if (!o.isFlag && !o.defaultText.empty())
      help += " (default: " + o.defaultText + ")";
    std::printf("    %-28s %s\n", left.c_str(), help.c_str());
  }
  std::printf("\n    %-28s %s\n    %-28s %s\n", "--help", "this text", "--version",
              "the version of rslc-train");
}

int OptionTable::parse(int argc, char **argv, std::vector<std::string> &positional) {
  std::vector<struct option> longs;
  for (const Option &o : options)
    longs.push_back({o.name.c_str(), o.isFlag ? no_argument : required_argument, nullptr, 0});
  const int helpIndex = int(longs.size()), versionIndex = helpIndex + 1;
  longs.push_back({"help", no_argument, nullptr, 0});
  longs.push_back({"version", no_argument, nullptr, 0});
  longs.push_back({nullptr, 0, nullptr, 0});
  opterr = 0; // messages are ours
  optind = 1;
  for (;;) {
    int index = -1;
    int c = getopt_long(argc, argv, "", longs.data(), &index);
    if (c == -1)
      break;
    if (c == '?' || c == ':') {
      std::string arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
      if (c == ':' || (index >= 0 && longs[index].has_arg == required_argument))
        std::fprintf(stderr, "%s: error: %s needs a value\n", tool.c_str(), arg.c_str());
      else
        std::fprintf(stderr, "%s: error: unknown option '%s' (see --help)\n", tool.c_str(),
                     arg.c_str());
      return 2;
    }
    if (index == helpIndex) {
      printHelp();
      return 0;
    }
    if (index == versionIndex) {
      std::printf("%s %s\n", tool.c_str(), RSLC_VERSION);
      return 0;
    }
    Option &o = options[index];
    std::string value = optarg ? optarg : "";
    if (!o.set(value)) {
      std::fprintf(stderr, "%s: error: --%s: '%s' is not a valid %s\n", tool.c_str(),
                   o.name.c_str(), value.c_str(), o.metavar.c_str());
      return 2;
    }
    o.seen = true;
  }
  for (int k = optind; k < argc; ++k)
    positional.push_back(argv[k]);
  return -1;
}

} // namespace rslc::train
