//===- rslc-train.cpp - train, evaluate and run a compiled model ----------===//
//
//   rslc-train model.so --data train.csv --integrator rk4 --steps 500
//
// A thin command line: loads the library (dlopen), gets the data from the
// dataset module (Dataset.h: files or a teacher network, split,
// standardised, sharded over MPI ranks), trains through the library's
// rslc_train, and reports metrics as JSON lines and a progress bar. All
// training logic is the library's. Reference: docs/runtime.md.
//
//===----------------------------------------------------------------------===//
#include "Dataset.h"
#include "Distributed.h"
#include "Options.h"

#include "core/Files.h"
#include "core/Kinds.h"

#include <nlohmann/json.hpp>

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cerrno>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <tuple>

using namespace rslc;
using namespace rslc::train;

namespace {

struct Settings {
  std::string data, targets, testData, testTargets, npzX = "x", npzY = "y", teacher;
  int64_t samples = 256;
  std::string loss = "mse", integrator = "euler";
  double stepSize = 0.1, momentum = 0.9, weightDecay = 0, tolerance = 1e-4;
  int64_t batchSize = 0, steps = 1000;
  double targetLoss = 0, timeBudget = 0, flowTime = 0, plateau = 0;
  uint64_t seed = 1, modelSeed = 0;
  double testFraction = 0;
  bool standardize = false, evalTrain = false, autoStep = false, checkStep = false;
  std::string log;
  int64_t logEvery = 10;
  std::string checkpoint;
  int64_t checkpointEvery = 0;
  std::string resume, exportPath, predict;
  bool quiet = false;
  int64_t threads = 0;
};

OptionTable options(Settings &s) {
  OptionTable t("rslc-train", "rslc-train: train and run rslc-compiled models\n\n"
                              "  rslc-train MODEL.so --data train.csv [options]");
  t.group("data");
  t.add("data", "FILE", "inputs (and, for CSV, targets in the last columns): .csv, .npy, .npz, IDX",
        s.data);
  t.add("targets", "FILE", "targets in their own file (.npy, .npz, IDX, CSV)", s.targets);
  t.add("test-data", "FILE", "a test set, in the formats of --data", s.testData);
  t.add("test-targets", "FILE", "the test set's targets in their own file", s.testTargets);
  t.add("npz-x", "NAME", "array of inputs in a .npz", s.npzX);
  t.add("npz-y", "NAME", "array of targets in a .npz", s.npzY);
  t.add("teacher", "MODEL.so", "label random inputs with this model (the witness)", s.teacher);
  t.add("samples", "N", "samples to generate with --teacher", s.samples);
  t.add("test-fraction", "F", "fraction held out for testing", s.testFraction);
  t.add("standardize", "scale inputs to zero mean, unit variance (training statistics)",
        s.standardize);
  t.add("seed", "N", "seed of data generation, shuffling and splitting", s.seed);
  t.group("training");
  t.add("loss", "NAME", keywordList<Loss>() + " (cross-entropy: class-index targets)", s.loss);
  t.add("integrator", "NAME", keywordList<Integrator>(), s.integrator);
  t.add("step-size", "H", "step size / learning rate; without it, euler and rk4 take their "
        "step, and adaptive its first step, from the sharpness (see --auto-step), on one process",
        s.stepSize);
  t.add("auto-step", "euler, rk4: the step from the sharpness lambda of the loss at the start "
        "(1/lambda for euler and adaptive's first step, 2/lambda for rk4), even with --step-size",
        s.autoStep);
  t.add("check-step", "euler, rk4: also run from the same start with half the step and twice "
        "the steps, and report how far apart the two end", s.checkStep);
  t.add("momentum", "M", "SGD momentum", s.momentum);
  t.add("weight-decay", "W", "adds W/2 |theta|^2 to the loss", s.weightDecay);
  t.add("tolerance", "T", "adaptive integrator's error per step", s.tolerance);
  t.add("batch-size", "N", "SGD/Adam mini-batch (0: full batch)", s.batchSize);
  t.add("steps", "N", "steps to train", s.steps);
  t.add("target-loss", "L", "stop below this training loss (0: never)", s.targetLoss);
  t.add("time-budget", "S", "stop after this many seconds (0: none)", s.timeBudget);
  t.add("flow-time", "T", "gradient flow: stop at flow time T (euler, rk4: after ceil(T / h) "
        "steps; adaptive: at the first log at or past T) (0: none)", s.flowTime);
  t.add("plateau", "F", "gradient flow: stop at a log where the loss fell by less than the "
        "fraction F since the log at half its flow time (0: never)", s.plateau);
  t.add("model-seed", "N", "seed of the lift and weights (0: the blueprint's)", s.modelSeed);
  t.add("eval-train", "mini-batch methods: evaluate the whole training set at each log "
        "(default: the mean over the mini-batches since the last log)", s.evalTrain);
  t.group("output");
  t.add("log", "FILE", "write metrics as JSON lines to this file (- for stdout)", s.log);
  t.add("log-every", "N", "metrics period in steps", s.logEvery);
  t.add("checkpoint", "FILE", "save parameters and optimiser state here", s.checkpoint);
  t.add("checkpoint-every", "N", "checkpoint period in steps (0: at the end)", s.checkpointEvery);
  t.add("resume", "FILE", "start from this checkpoint", s.resume);
  t.add("export", "FILE", "write the trained parameters as .npy", s.exportPath);
  t.add("predict", "FILE", "write the model's outputs on --data as CSV (no training)", s.predict);
  t.add("quiet", "no progress output", s.quiet);
  t.add("threads", "N", "OpenMP threads (0: OpenMP's default, every core); waiting threads spin "
        "briefly, then sleep, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT says otherwise", s.threads);
  return t;
}

volatile std::sig_atomic_t interrupted = 0;
void onSignal(int) { interrupted = 1; }

dist::World world; // this process's rank among `world.size` (1 without mpirun)

/// Reports and ends the job: under mpirun, every rank (no rank is left
/// waiting in a collective call).
[[noreturn]] void die(const std::string &msg, int code = 1) {
  std::fprintf(stderr, "rslc-train: error: %s%s\n",
               world.size > 1 ? ("rank " + std::to_string(world.rank) + ": ").c_str() : "",
               msg.c_str());
  dist::abortAll(code);
}

/// A generated library, or the end: not found, not a model, another ABI.
rslc_api loadLibrary(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    die("cannot load '" + path + "': not a regular file", 2);
  rslc_api api;
  char error[512];
  if (!rslc_dl_open(path.c_str(), &api, error, sizeof error))
    die(error, 2);
  return api;
}

/// A metrics line of the log: NaN and infinities (no value) as null.
std::string json(const rslc_metrics &m) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::ordered_json j = {{"step", m.step},
                              {"flow_time", num(m.flow_time)},
                              {"loss", num(m.loss)},
                              {"test_loss", num(m.test_loss)},
                              {"accuracy", num(m.accuracy)},
                              {"test_accuracy", num(m.test_accuracy)},
                              {"param_norm", num(m.param_norm)},
                              {"grad_norm", num(m.grad_norm)},
                              {"grad_ratio", num(m.grad_ratio)},
                              {"step_size", num(m.step_size)},
                              {"wall_seconds", num(m.wall_seconds)},
                              {"diverging", bool(m.diverging)}};
  return j.dump();
}

/// The training callback: JSON lines, the progress bar, the divergence warning.
struct Reporter {
  std::FILE *file = nullptr; ///< the log (stdout for "-"), every write checked
  std::string logPath, logError;
  bool tty = isatty(2), warned = false, quiet = false;
  double flowLimit = 0;    ///< --flow-time of the adaptive integrator (0: none)
  bool flowReached = false; ///< stopped there
  double plateau = 0;       ///< --plateau (0: none)
  bool plateaued = false;   ///< stopped on it
  std::vector<std::pair<double, double>> history; ///< (flow time, loss) at each log
  int64_t total = 0, base = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  static int callback(const rslc_metrics *m, void *self) {
    auto *r = static_cast<Reporter *>(self);
    std::string line = json(*m) + "\n";
    if (r->file && r->logError.empty() &&
        (std::fwrite(line.data(), 1, line.size(), r->file) != line.size() ||
         std::fflush(r->file) != 0))
      r->logError = "cannot write the log '" + r->logPath + "': " + std::strerror(errno);
    if (!r->logError.empty())
      return 1; // stop: a run whose log is lost is not what was asked for
    if (m->diverging && !r->warned && world.rank == 0) {
      r->warned = true;
      std::fprintf(stderr,
                   "rslc-train: warning: the parameter norm grows like a power of the time while "
                   "the loss does not increase (step %lld, |theta| = %g): the problem may have no "
                   "optimum\n",
                   (long long)m->step, m->param_norm);
    }
    if (!r->quiet) {
      int64_t done = m->step - r->base;
      double frac = r->total ? double(done) / double(r->total) : 1.0;
      std::string extra;
      char buf[96];
      if (std::isfinite(m->accuracy))
        std::snprintf(buf, sizeof buf, " acc %.3f", m->accuracy), extra += buf;
      if (std::isfinite(m->test_loss))
        std::snprintf(buf, sizeof buf, " test %.4g", m->test_loss), extra += buf;
      if (std::isfinite(m->test_accuracy))
        std::snprintf(buf, sizeof buf, " test acc %.3f", m->test_accuracy), extra += buf;
      if (r->tty) {
        // The rate since this run began (the step count may start at a
        // resumed checkpoint's), and the time left at that rate.
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                       r->started).count();
        double rate = seconds > 0 ? double(done) / seconds : 0;
        std::string eta = rate > 0 && r->total > done
                              ? " eta " + std::to_string(int64_t(double(r->total - done) / rate)) + "s"
                              : "";
        int w = 24, filled = int(std::min(1.0, frac) * w);
        std::fprintf(stderr, "\r[%s%s] step %lld loss %.6g%s %.0f steps/s%s   ",
                     std::string(filled, '#').c_str(), std::string(w - filled, '.').c_str(),
                     (long long)m->step, m->loss, extra.c_str(), rate, eta.c_str());
      } else {
        std::fprintf(stderr, "step %lld loss %.6g%s |theta| %.4g |grad| %.4g\n",
                     (long long)m->step, m->loss, extra.c_str(), m->param_norm, m->grad_norm);
      }
    }
    if (r->flowLimit > 0 && m->flow_time >= r->flowLimit)
      r->flowReached = true;
    if (r->plateau > 0 && std::isfinite(m->loss) && m->flow_time > 0) {
      // The last log at or before half this flow time: a whole doubling of
      // t has passed since it.
      auto half = std::upper_bound(r->history.begin(), r->history.end(),
                                   std::make_pair(m->flow_time / 2, HUGE_VAL));
      if (half != r->history.begin() && std::prev(half)->first > 0 &&
          m->loss > (1 - r->plateau) * std::prev(half)->second) {
        r->plateaued = true;
        if (!r->quiet)
          std::fprintf(stderr, "rslc-train: plateau: the loss fell by less than %g since flow "
                       "time %g (%g -> %g)\n", r->plateau, std::prev(half)->first,
                       std::prev(half)->second, m->loss);
      }
      r->history.push_back({m->flow_time, m->loss});
    }
    return interrupted || r->flowReached || r->plateaued ? 1 : 0;
  }
};

/// The model's parameters as doubles.
std::vector<double> getParams(const rslc_api &api, rslc_model *m) {
  ModelReals p(api.real_size(), std::vector<double>(size_t(api.num_params(m))));
  api.get_params(m, p.data(), api.num_params(m));
  return p.toDouble();
}

/// --check-step: the same flow from the same start with half the step and
/// twice the steps; how far apart the two end says whether the step
/// follows the flow.
void checkStep(const rslc_api &api, rslc_model *m, const Settings &s, rslc_train_options o,
               int64_t steps, const void *x, const void *y, int64_t n, double loss) {
  rslc_model *half;
  if (api.create(s.modelSeed, &half) || (!s.resume.empty() && api.load(half, s.resume.c_str())))
    die(api.last_error(nullptr));
  o.step_size /= 2, o.max_steps = 2 * steps;
  o.callback = nullptr, o.log_every = 0, o.target_loss = 0, o.time_budget = 0;
  rslc_metrics end{};
  if (api.train(half, &o, static_cast<const rslc_real *>(x), static_cast<const rslc_real *>(y), n,
                nullptr, nullptr, 0, &end))
    die(std::string("--check-step: ") + api.last_error(half));
  std::vector<double> a = getParams(api, m), b = getParams(api, half);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff += (a[i] - b[i]) * (a[i] - b[i]), norm += a[i] * a[i];
  double apart = std::sqrt(diff / std::max(norm, 1e-300));
  std::fprintf(stderr,
               "rslc-train: step check: steps %.6g and %.6g end %.3g apart (|theta_h - "
               "theta_h/2| / |theta_h|); losses %.6g and %.6g%s\n",
               2 * o.step_size, o.step_size, apart, loss, end.loss,
               apart > 1e-2 ? ": the step is too large to follow the flow" : "");
  api.destroy(half);
}

/// Which run this is: written as the log's first line and into the
/// checkpoints' note.
nlohmann::ordered_json provenanceOf(const rslc_api &api, rslc_model *m, const std::string &model,
                                    const Settings &s, const std::vector<std::string> &argv) {
  std::string command;
  for (const std::string &a : argv)
    command += (command.empty() ? "" : " ") + a;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  char started[32];
  std::time_t now = std::time(nullptr);
  std::strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  nlohmann::json described = nlohmann::json::parse(api.describe(m), nullptr, false);
  return {{"rslc_train", RSLC_VERSION},
          {"abi", api.abi_version()},
          {"model", model},
          {"blueprint", api.blueprint_name()},
          {"kernels", described.is_object() ? described.value("kernels", "") : ""},
          {"seed", api.seed(m)},
          {"parameters", api.num_params(m)},
          {"command", command},
          {"started", started},
          {"host", host},
          {"resumed_from", s.resume.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s.resume)}};
}

/// The standardisation a checkpoint's note records, if any (a note that is
/// not rslc-train's is ignored; a malformed record is refused).
std::optional<Standardizer> savedStandardizer(const char *text, int64_t inputs,
                                              const std::string &path) {
  nlohmann::json note = nlohmann::json::parse(text ? text : "", nullptr, /*exceptions=*/false);
  if (!note.is_object() || !note.contains("standardize"))
    return std::nullopt;
  const nlohmann::json &st = note["standardize"];
  Standardizer out;
  try {
    out.mean = st.at("mean").get<std::vector<double>>();
    out.sd = st.at("sd").get<std::vector<double>>();
  } catch (const nlohmann::json::exception &) {
    die("checkpoint '" + path + "': its standardisation record is malformed");
  }
  bool ok = int64_t(out.mean.size()) == inputs && int64_t(out.sd.size()) == inputs;
  for (size_t k = 0; ok && k < out.sd.size(); ++k)
    ok = std::isfinite(out.mean[k]) && std::isfinite(out.sd[k]) && out.sd[k] > 0;
  if (!ok)
    die("checkpoint '" + path + "': its standardisation record does not fit the model's " +
        std::to_string(inputs) + " inputs");
  return out;
}

/// Every output path is checked before any work (a run must not train for
/// hours, then fail to save): writable, not one of the inputs, not another
/// output. --checkpoint may be the --resume file (it is replaced atomically).
void checkOutputs(const Settings &s, const std::string &model) {
  const std::pair<const char *, std::string> inputs[] = {
      {"the model", model},          {"--data", s.data},         {"--targets", s.targets},
      {"--test-data", s.testData},   {"--test-targets", s.testTargets},
      {"--teacher", s.teacher},      {"--resume", s.resume}};
  const std::pair<const char *, std::string> outputs[] = {{"--log", s.log == "-" ? "" : s.log},
                                                          {"--checkpoint", s.checkpoint},
                                                          {"--export", s.exportPath},
                                                          {"--predict", s.predict}};
  for (size_t o = 0; o < std::size(outputs); ++o) {
    const auto &[option, path] = outputs[o];
    if (path.empty())
      continue;
    if (std::string why = files::checkWritable(path); !why.empty())
      die(std::string("cannot write ") + option + " '" + path + "': " + why, 2);
    for (const auto &[input, in] : inputs)
      if (!in.empty() && (in == path || files::sameFile(in, path)) &&
          !(std::string(option) == "--checkpoint" && std::string(input) == "--resume"))
        die(std::string(option) + " '" + path + "' is " + input + "; writing it would destroy it",
            2);
    for (size_t p = 0; p < o; ++p)
      if (!outputs[p].second.empty() &&
          (outputs[p].second == path || files::sameFile(outputs[p].second, path)))
        die(std::string(option) + " and " + outputs[p].first + " name the same file '" + path +
                "'",
            2);
  }
}

} // namespace

int main(int argc, char **argv) {
  // Writes over a file size limit fail with EFBIG and are reported, instead
  // of the default SIGXFSZ ending the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  world = dist::init(argc, argv);
  const std::vector<std::string> command(argv, argv + argc); // before getopt permutes it
  Settings s;
  OptionTable table = options(s);
  std::vector<std::string> positional;
  if (int code = table.parse(argc, argv, positional); code >= 0) {
    dist::finalize();
    return code;
  }
  if (positional.size() != 1)
    die(positional.empty() ? "give the model library: rslc-train MODEL.so [options] (see --help)"
                           : "one model library at a time, got '" + positional[1] + "' too",
        2);
  const std::string modelPath = positional[0];
  std::optional<Loss> loss = parseKind<Loss>(s.loss);
  if (!loss)
    die("--loss must be " + keywordList<Loss>() + ", not '" + s.loss + "'", 2);
  std::optional<Integrator> integrator = parseKind<Integrator>(s.integrator);
  if (!integrator)
    die("--integrator must be " + keywordList<Integrator>() + ", not '" + s.integrator + "'", 2);
  if (!(s.testFraction >= 0 && s.testFraction < 1))
    die("--test-fraction must be in [0, 1)", 2);
  if (s.samples < 1 || s.samples > (int64_t(1) << 32)) // sizes below multiply it by the input size
    die("--samples must be between 1 and 2^32, not " + std::to_string(s.samples), 2);
  if (!s.testData.empty() && s.testFraction > 0)
    die("give --test-data or --test-fraction, not both", 2);

  if (!s.teacher.empty() && !s.data.empty())
    die("give --data FILE or --teacher MODEL.so, not both", 2);
  if (s.threads < 0 || s.threads > 4096)
    die("--threads must be between 0 and 4096, not " + std::to_string(s.threads), 2);
  if (world.rank == 0) // only rank 0 writes them; its error ends the job
    checkOutputs(s, modelPath);

  // OpenMP reads these when the library loads it: threads, and a short
  // spin at barriers before sleeping unless the user chose a policy
  // (docs/runtime.md, "Threads": waking a sleeping thread costs a VM
  // hundreds of microseconds; OpenMP's own default spins for milliseconds,
  // ruinous on a busy machine). Threads that use every CPU the process may
  // run on are bound one to a CPU, unless the user chose a binding: the
  // kernel may wake a sleeping thread onto its waker's CPU (a 2-thread
  // dense layer then ran at 1-thread speed). The Python package does the same.
  if (s.threads > 0)
    setenv("OMP_NUM_THREADS", std::to_string(s.threads).c_str(), 1);
  if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
    setenv("GOMP_SPINCOUNT", "3000", 1);
  if (!getenv("OMP_PROC_BIND") && !getenv("OMP_PLACES") && !getenv("GOMP_CPU_AFFINITY")) {
    cpu_set_t mask;
    const int cpus = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 1;
    const char *threads = getenv("OMP_NUM_THREADS");
    if (cpus > 1 && (!threads || !*threads || std::atoi(threads) == cpus))
      setenv("OMP_PROC_BIND", "true", 1);
  }
  rslc_api api = loadLibrary(modelPath);
  rslc_model *m;
  if (api.create(s.modelSeed, &m))
    die(api.last_error(nullptr));
  if (!s.resume.empty() && api.load(m, s.resume.c_str()))
    die(api.last_error(m));
  // What a checkpoint written by rslc-train remembers besides the state:
  // the run that wrote it, and the standardisation its inputs had.
  std::optional<Standardizer> saved;
  if (!s.resume.empty())
    saved = savedStandardizer(api.note(m), api.input_size(m), s.resume);
  const nlohmann::ordered_json provenance = provenanceOf(api, m, modelPath, s, command);
  const int bytes = api.real_size();
  if (world.size > 1) { // every rank starts from rank 0's parameters
    std::vector<double> theta = getParams(api, m);
    dist::broadcast(theta);
    ModelReals start(bytes, theta);
    api.set_params(m, start.data(), int64_t(theta.size()));
  }

  const Shape shape{api.input_size(m), api.output_size(m), *loss == Loss::CrossEntropy};
  DataSet all, test;
  try {
    if (!s.teacher.empty() && s.data.empty()) {
      rslc_api teacher = loadLibrary(s.teacher);
      all = teacherData(teacher, s.teacher, shape, s.samples, s.seed);
    } else if (s.data.empty()) {
      die("give --data FILE (or --teacher MODEL.so)", 2);
    } else {
      all = readData(s.data, s.targets, s.npzX, s.npzY, shape, !s.predict.empty());
    }
    if (!s.testData.empty()) {
      test = readData(s.testData, s.testTargets, s.npzX, s.npzY, shape, false);
      if (test.y.values.empty())
        die(s.testData + ": the test set needs targets");
    }
  } catch (const data::DataError &e) {
    die(e.what());
  } catch (const std::bad_alloc &) {
    die("out of memory while reading the data");
  }

  if (!s.predict.empty()) {
    if (s.resume.empty())
      std::fprintf(stderr, "rslc-train: warning: --predict without --resume uses the model's "
                           "initial, untrained parameters\n");
    if (saved) {
      saved->apply(all.x);
    } else if (s.standardize) {
      die("--standardize with --predict needs the training set's statistics: rslc-train saves "
          "them in the checkpoints of runs with --standardize; give --resume CHECKPOINT",
          2);
    }
    if (!s.quiet)
      std::fprintf(stderr, "rslc-train: predicting %lld samples with %s%s%s; no training\n",
                   (long long)all.rows(), api.blueprint_name(),
                   s.resume.empty() ? "" : (" from " + s.resume).c_str(),
                   saved ? ", inputs standardised as in training" : "");
    int64_t n = all.rows();
    ModelReals x(bytes, all.x.values), y(bytes, std::vector<double>(size_t(n * shape.outputs)));
    if (api.forward(m, x.data(), n, y.data()))
      die(api.last_error(m));
    try {
      if (world.rank == 0)
        data::saveCSV(s.predict, {y.toDouble(), n, shape.outputs});
    } catch (const data::DataError &e) {
      die(e.what());
    }
    dist::finalize();
    return 0;
  }

  // Split (shuffled by --seed), then standardise with the training split.
  DataSet train;
  if (s.testData.empty())
    std::tie(train, test) = split(all, s.testFraction, s.seed);
  else
    train = std::move(all);
  if (train.rows() <= 0)
    die("no training samples left after the split", 2);
  // A resumed run keeps its standardisation; a new one fits it on its
  // training split.
  if (saved && !s.standardize && !s.quiet && world.rank == 0)
    std::fprintf(stderr, "rslc-train: standardising the inputs as the run that wrote %s did\n",
                 s.resume.c_str());
  if (!saved && s.standardize)
    saved = Standardizer::fit(train.x);
  if (saved) {
    saved->apply(train.x);
    saved->apply(test.x);
  }
  nlohmann::ordered_json note = {{"provenance", provenance}};
  if (saved)
    note["standardize"] = {{"mean", saved->mean}, {"sd", saved->sd}};
  if (api.set_note(m, note.dump().c_str()))
    die(api.last_error(m));
  if (world.size > 1) { // rank r trains on rows r, r + size, r + 2 size, ...
    if (train.rows() < world.size)
      die(std::to_string(train.rows()) + " training samples cannot be shared by " +
              std::to_string(world.size) + " ranks",
          2);
    int64_t smallest = train.rows() / world.size;
    if (s.batchSize > 0 && s.batchSize >= smallest)
      die("--batch-size " + std::to_string(s.batchSize) + " is not below the " +
              std::to_string(smallest) + " samples of the smallest shard (" +
              std::to_string(world.size) + " ranks)",
          2);
    train = shard(train, world.rank, world.size);
    test = shard(test, world.rank, world.size);
  }
  const int64_t nTrain = train.rows(), nTest = test.rows();
  ModelReals x(bytes, train.x.values), y(bytes, train.y.values), xt(bytes, test.x.values),
      yt(bytes, test.y.values);

  rslc_train_options o;
  api.default_train_options(&o);
  o.integrator = rslc_integrator(*integrator);
  o.loss = rslc_loss(*loss);
  o.step_size = s.stepSize, o.momentum = s.momentum, o.weight_decay = s.weightDecay;
  o.tolerance = s.tolerance, o.batch_size = s.batchSize, o.target_loss = s.targetLoss;
  o.time_budget = s.timeBudget, o.shuffle_seed = s.seed, o.log_every = s.logEvery;
  o.train_eval = s.evalTrain;
  const bool flow = o.integrator == RSLC_EULER || o.integrator == RSLC_RK4;
  if ((s.autoStep || s.checkStep) && (!flow || world.size > 1))
    die(std::string(s.autoStep ? "--auto-step" : "--check-step") +
            " follows gradient flow: it needs --integrator euler or rk4, on one process",
        2);
  // Gradient flow without --step-size: the step from the sharpness, so that
  // Euler stays within its stability limit 2/lambda (RK4's is about
  // 2.8/lambda) however stiff the lift. Where lambda is not positive (a
  // concave start), the fixed default. A resumed adaptive run continues
  // with the step its checkpoint holds.
  const bool stepFromSharpness =
      s.autoStep || (!table.given("step-size") && world.size == 1 && s.steps > 0 &&
                     (flow || (o.integrator == RSLC_ADAPTIVE && s.resume.empty())));
  if (stepFromSharpness) {
    double lambda = 0;
    if (api.sharpness(m, x.data(), y.data(), nTrain, o.loss, 50, &lambda))
      die(api.last_error(m));
    if (lambda > 0) {
      o.step_size = (o.integrator == RSLC_RK4 ? 2.0 : 1.0) / lambda;
      if (!s.quiet && world.rank == 0)
        std::fprintf(stderr, "rslc-train: sharpness %.6g at the start: step size %.6g\n", lambda,
                     o.step_size);
    } else if (s.autoStep) {
      die("--auto-step: the sharpness at the start is " + std::to_string(lambda) +
          " (not positive); give --step-size");
    } else if (!s.quiet && world.rank == 0) {
      std::fprintf(stderr, "rslc-train: the sharpness at the start is %.6g (not positive): step "
                   "size %g\n", lambda, o.step_size);
    }
  }
  if (s.flowTime < 0 || (s.flowTime > 0 && !flow && o.integrator != RSLC_ADAPTIVE))
    die("--flow-time needs a gradient-flow integrator (euler, rk4, adaptive) and a time >= 0", 2);
  if (s.flowTime > 0 && flow) // fixed steps: the count that reaches T
    s.steps = std::min<int64_t>(s.steps, int64_t(std::ceil(s.flowTime / o.step_size - 1e-9)));
  Reporter reporter; // metrics are the same on every rank: rank 0 reports
  if (s.flowTime > 0 && !flow)
    reporter.flowLimit = s.flowTime;
  if (s.plateau < 0 || s.plateau >= 1 || (s.plateau > 0 && !flow && o.integrator != RSLC_ADAPTIVE))
    die("--plateau needs a gradient-flow integrator (euler, rk4, adaptive) and a fraction in "
        "[0, 1)", 2);
  reporter.plateau = s.plateau;
  reporter.quiet = s.quiet || world.rank > 0;
  reporter.logPath = s.log;
  if (world.rank == 0 && s.log == "-")
    reporter.file = stdout;
  else if (world.rank == 0 && !s.log.empty()) {
    // A resumed run continues its log; a new run starts one.
    reporter.file = std::fopen(s.log.c_str(), s.resume.empty() ? "w" : "a");
    if (!reporter.file)
      die("cannot write the log '" + s.log + "': " + std::strerror(errno));
  }
  if (reporter.file) { // the first line: which run this is
    std::string line = nlohmann::ordered_json{{"provenance", provenance}}.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), reporter.file) != line.size() ||
        std::fflush(reporter.file) != 0)
      die("cannot write the log '" + s.log + "': " + std::strerror(errno));
  }
  o.callback = Reporter::callback;
  o.user = &reporter;
  if (world.size > 1)
    o.allreduce = dist::allreduceSum;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  // Train in rounds of --checkpoint-every steps; rounds equal one long run.
  rslc_metrics last{};
  int64_t done = 0, round = s.checkpointEvery > 0 ? s.checkpointEvery : s.steps;
  reporter.total = s.steps;
  int status = 0;
  while (true) {
    o.max_steps = std::min<int64_t>(round, s.steps - done);
    reporter.base = last.step - done;
    status = api.train(m, &o, x.data(), y.data(), nTrain, nTest ? xt.data() : nullptr,
                       nTest ? yt.data() : nullptr, nTest, &last);
    if (status)
      break;
    done += o.max_steps;
    bool finished = done >= s.steps || interrupted || reporter.flowReached || reporter.plateaued ||
                    !reporter.logError.empty() ||
                    (s.targetLoss > 0 && last.loss < s.targetLoss) ||
                    (s.timeBudget > 0 && last.wall_seconds >= s.timeBudget);
    if (world.rank == 0 && !s.checkpoint.empty() && (finished || s.checkpointEvery > 0) &&
        api.save(m, s.checkpoint.c_str()))
      die(api.last_error(m));
    if (finished)
      break;
  }
  if (!reporter.quiet && reporter.tty)
    std::fputc('\n', stderr);
  if (reporter.file && reporter.file != stdout) {
    bool closed = ::fsync(fileno(reporter.file)) == 0 && std::fclose(reporter.file) == 0;
    reporter.file = nullptr;
    if (!closed && reporter.logError.empty())
      reporter.logError = "cannot write the log '" + s.log + "': " + std::strerror(errno);
  }
  if (!reporter.logError.empty()) // the trained state was checkpointed above, if asked
    die(reporter.logError);
  if (status) // NaN/inf: the last good checkpoint is kept, not overwritten
    die(std::string(api.last_error(m)) +
        (s.checkpoint.empty() ? "" : "; the last good checkpoint '" + s.checkpoint + "' is kept") +
        (status == RSLC_ERROR_NUMERIC && !saved
             ? " (unscaled inputs? try --standardize, or a smaller --step-size)"
             : ""));
  if (s.checkStep && done > 0)
    checkStep(api, m, s, o, done, x.data(), y.data(), nTrain, last.loss);
  if (world.rank == 0 && !s.exportPath.empty()) {
    try {
      std::vector<double> theta = getParams(api, m);
      data::saveNpy(s.exportPath, theta, int64_t(theta.size()), 1, bytes == 4);
    } catch (const data::DataError &e) {
      die(e.what());
    }
  }
  if (!reporter.quiet) {
    std::string summary = std::string(api.blueprint_name()) + ": step " +
                          std::to_string(last.step);
    char buf[64];
    for (auto [label, value] : {std::pair{"loss", last.loss}, {"accuracy", last.accuracy},
                                {"test loss", last.test_loss},
                                {"test accuracy", last.test_accuracy}})
      if (std::isfinite(value))
        std::snprintf(buf, sizeof buf, ", %s %.6g", label, value), summary += buf;
    std::fprintf(stderr, "%s\n", summary.c_str());
  }
  if (!reporter.quiet && world.size > 1)
    std::fprintf(stderr, "%d ranks: each sent %.3f MiB through allreduce (%.1f KiB per step)\n",
                 world.size, double(dist::bytesReduced()) / (1 << 20),
                 last.step ? double(dist::bytesReduced()) / 1024 / double(last.step) : 0.0);
  api.destroy(m);
  dist::finalize();
  return interrupted ? 130 : 0;
}
