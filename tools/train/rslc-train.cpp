//===- rslc-train.cpp - train, evaluate and run a compiled model ----------===//
//
//   rslc-train model.so --data train.csv --integrator rk4 --steps 500
//
// Loads the library (dlopen), reads the data (CSV, .npy, .npz, IDX) or
// generates it with a teacher network, splits and standardises it, trains
// through the library's rslc_train, and reports metrics as JSON lines and a
// progress bar. Reference: docs/runtime.md.
//
//===----------------------------------------------------------------------===//
#include "Data.h"
#include "Distributed.h"

#include "Lift/Random.h"
#include "rslc_dl.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <new>
#include <numeric>

using namespace llvm;
using namespace rslc;

namespace {

cl::OptionCategory cat("rslc-train options");
cl::opt<std::string> modelPath(cl::Positional, cl::Required, cl::desc("<model.so>"), cl::cat(cat));
cl::opt<std::string> dataPath("data", cl::desc("Inputs (and, for CSV, targets in the last columns)"),
                              cl::value_desc("file"), cl::cat(cat));
cl::opt<std::string> targetPath("targets", cl::desc("Targets in their own file (.npy, .npz, IDX, CSV)"),
                                cl::value_desc("file"), cl::cat(cat));
cl::opt<std::string> testDataPath("test-data", cl::desc("A test set, in the formats of --data"),
                                  cl::cat(cat));
cl::opt<std::string> testTargetPath("test-targets", cl::desc("The test set's targets in their own file"),
                                    cl::cat(cat));
cl::opt<std::string> npzX("npz-x", cl::desc("Array of inputs in a .npz"), cl::init("x"), cl::cat(cat));
cl::opt<std::string> npzY("npz-y", cl::desc("Array of targets in a .npz"), cl::init("y"), cl::cat(cat));
cl::opt<std::string> teacherPath("teacher", cl::desc("Label random inputs with this model (the witness)"),
                                 cl::value_desc("teacher.so"), cl::cat(cat));
cl::opt<int64_t> samples("samples", cl::desc("Samples to generate with --teacher"), cl::init(256), cl::cat(cat));
cl::opt<std::string> lossName("loss", cl::desc("mse or ce (cross-entropy, class-index targets)"),
                              cl::init("mse"), cl::cat(cat));
cl::opt<std::string> integratorName("integrator", cl::desc("euler, rk4, adaptive, sgd or adam"),
                                    cl::init("euler"), cl::cat(cat));
cl::opt<double> stepSize("step-size", cl::desc("Step size / learning rate"), cl::init(0.1), cl::cat(cat));
cl::opt<double> momentum("momentum", cl::desc("SGD momentum"), cl::init(0.9), cl::cat(cat));
cl::opt<double> weightDecay("weight-decay", cl::desc("Adds decay/2 |theta|^2 to the loss"), cl::init(0), cl::cat(cat));
cl::opt<double> tolerance("tolerance", cl::desc("Adaptive integrator's error per step"), cl::init(1e-4), cl::cat(cat));
cl::opt<int64_t> batchSize("batch-size", cl::desc("SGD/Adam mini-batch (0: full batch)"), cl::init(0), cl::cat(cat));
cl::opt<int64_t> steps("steps", cl::desc("Steps to train"), cl::init(1000), cl::cat(cat));
cl::opt<double> targetLoss("target-loss", cl::desc("Stop below this training loss"), cl::init(0), cl::cat(cat));
cl::opt<double> timeBudget("time-budget", cl::desc("Stop after this many seconds"), cl::init(0), cl::cat(cat));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of data generation, shuffling and splitting"), cl::init(1), cl::cat(cat));
cl::opt<uint64_t> modelSeed("model-seed", cl::desc("Seed of the lift and weights (0: the blueprint's)"), cl::init(0), cl::cat(cat));
cl::opt<double> testFraction("test-fraction", cl::desc("Fraction held out for testing"), cl::init(0), cl::cat(cat));
cl::opt<bool> standardize("standardize", cl::desc("Scale inputs to zero mean, unit variance (train statistics)"), cl::cat(cat));
cl::opt<std::string> logPath("log", cl::desc("Write metrics as JSON lines to this file (- for stdout)"), cl::cat(cat));
cl::opt<int64_t> logEvery("log-every", cl::desc("Metrics period in steps"), cl::init(10), cl::cat(cat));
cl::opt<std::string> checkpointPath("checkpoint", cl::desc("Save parameters and optimiser state here"), cl::cat(cat));
cl::opt<int64_t> checkpointEvery("checkpoint-every", cl::desc("Checkpoint period in steps (0: at the end)"), cl::init(0), cl::cat(cat));
cl::opt<std::string> resumePath("resume", cl::desc("Start from this checkpoint"), cl::cat(cat));
cl::opt<std::string> exportPath("export", cl::desc("Write the trained parameters as .npy"), cl::cat(cat));
cl::opt<std::string> predictPath("predict", cl::desc("Write the model's outputs on --data as CSV"), cl::cat(cat));
cl::opt<bool> quiet("quiet", cl::desc("No progress output"), cl::cat(cat));

volatile std::sig_atomic_t interrupted = 0;
void onSignal(int) { interrupted = 1; }

dist::World world; // this process's rank among `world.size` (1 without mpirun)

/// Reports and ends the job: under mpirun, every rank (no rank is left
/// waiting in a collective call).
[[noreturn]] void die(const std::string &msg, int code = 1) {
  WithColor::error(errs(), "rslc-train") << (world.size > 1 ? "rank " + std::to_string(world.rank) + ": " : "")
                                         << msg << "\n";
  dist::abortAll(code);
}

/// A generated library, or the end: not found, not a model, another ABI.
model_api loadLibrary(const std::string &path) {
  model_api api;
  char error[512];
  if (!rslc_dl_open(path.c_str(), &api, error, sizeof error))
    die(error, 2);
  return api;
}

/// Values in the model's precision.
struct Reals {
  int bytes;
  std::vector<float> f;
  std::vector<double> d;
  Reals(int bytes, const std::vector<double> &v) : bytes(bytes) {
    if (bytes == 4)
      f.assign(v.begin(), v.end());
    else
      d = v;
  }
  const void *data() const { return bytes == 4 ? (const void *)f.data() : (const void *)d.data(); }
};

struct DataSet {
  data::Matrix x, y; // y: targets (mse: outputs per row; ce: 1 class per row)
};

/// The data set of --teacher, or of dataPath (and targetPath).
DataSet loadData(const model_api &api, rslc_model *m, bool ce, const std::string &dataPath,
                 const std::string &targetPath) {
  int64_t nin = api.input_size(m), nout = api.output_size(m), tw = ce ? 1 : nout;
  DataSet ds;
  if (!teacherPath.empty() && dataPath.empty()) {
    model_api teacher = loadLibrary(teacherPath);
    rslc_model *t;
    if (teacher.create(0, &t))
      die("teacher: " + std::string(teacher.last_error(nullptr)));
    if (teacher.input_size(t) != nin || teacher.output_size(t) != nout)
      die("teacher " + teacherPath + " maps " + std::to_string(teacher.input_size(t)) + " -> " +
          std::to_string(teacher.output_size(t)) + " values; the model maps " + std::to_string(nin) +
          " -> " + std::to_string(nout));
    ds.x.rows = ds.y.rows = samples;
    ds.x.cols = nin, ds.y.cols = nout;
    ds.x.values.resize(samples * nin);
    uint64_t key = lift::streamKey(seed, 0x7eac4e7);
    for (int64_t k = 0; k < samples * nin; ++k)
      ds.x.values[k] = lift::normal(lift::draw(key, 2 * k), lift::draw(key, 2 * k + 1));
    Reals xr(teacher.real_size(), ds.x.values);
    std::vector<double> yd(samples * nout);
    std::vector<float> yf(samples * nout);
    void *out = teacher.real_size() == 4 ? (void *)yf.data() : (void *)yd.data();
    if (teacher.forward(t, xr.data(), samples, out))
      die("teacher: " + std::string(teacher.last_error(t)));
    if (teacher.real_size() == 4)
      yd.assign(yf.begin(), yf.end());
    if (ce) { // classes: the teacher's argmax
      ds.y.cols = 1;
      ds.y.values.resize(samples);
      for (int64_t r = 0; r < samples; ++r)
        ds.y.values[r] = double(std::max_element(&yd[r * nout], &yd[(r + 1) * nout]) - &yd[r * nout]);
    } else {
      ds.y.values = yd;
    }
    teacher.destroy(t);
    return ds;
  }
  if (dataPath.empty())
    die("give --data FILE (or --teacher MODEL.so)", 2);
  data::Matrix all = data::load(dataPath, npzX);
  if (!targetPath.empty() || (dataPath.size() > 4 && dataPath.substr(dataPath.size() - 4) == ".npz")) {
    ds.x = all;
    ds.y = targetPath.empty() ? data::load(dataPath, npzY) : data::load(targetPath, npzY);
    if (ds.y.rows != ds.x.rows)
      die("the inputs have " + std::to_string(ds.x.rows) + " rows, the targets " + std::to_string(ds.y.rows));
  } else if (predictPath.empty() || all.cols == nin + tw) { // CSV: inputs, then targets
    if (all.cols != nin + tw)
      die(dataPath + " has " + std::to_string(all.cols) + " columns; the model takes " + std::to_string(nin) +
          " inputs and " + std::to_string(tw) + (ce ? " class label" : " targets") + " (" +
          std::to_string(nin + tw) + " columns)");
    ds.x.rows = ds.y.rows = all.rows;
    ds.x.cols = nin, ds.y.cols = tw;
    for (int64_t r = 0; r < all.rows; ++r) {
      ds.x.values.insert(ds.x.values.end(), &all.values[r * all.cols], &all.values[r * all.cols + nin]);
      ds.y.values.insert(ds.y.values.end(), &all.values[r * all.cols + nin], &all.values[(r + 1) * all.cols]);
    }
  } else {
    ds.x = all; // inputs only, for --predict
  }
  if (ds.x.cols != nin)
    die(dataPath + ": " + std::to_string(ds.x.cols) + " values per sample; the model takes " + std::to_string(nin));
  if (!ds.y.values.empty() && ds.y.cols != tw)
    die("targets: " + std::to_string(ds.y.cols) + " values per sample; the " + (ce ? "cross-entropy" : "mse") +
        " loss needs " + std::to_string(tw));
  // Class labels are checked here, where the file and row are known.
  for (int64_t r = 0; ce && r < int64_t(ds.y.values.size()); ++r) {
    double c = ds.y.values[r];
    if (!(c >= 0 && c < double(nout) && c == std::floor(c))) {
      char text[32];
      std::snprintf(text, sizeof text, "%g", c);
      die((targetPath.empty() ? std::string(dataPath) : std::string(targetPath)) + ": row " +
          std::to_string(r) + ": target " + text + " is not a class index in [0, " +
          std::to_string(nout) + ")");
    }
  }
  return ds;
}

/// Rows `rows` of m.
data::Matrix take(const data::Matrix &m, const std::vector<int64_t> &rows) {
  data::Matrix out;
  out.rows = int64_t(rows.size()), out.cols = m.cols;
  for (int64_t r : rows)
    out.values.insert(out.values.end(), &m.values[r * m.cols], &m.values[(r + 1) * m.cols]);
  return out;
}

std::string json(const rslc_metrics &m) {
  auto num = [](double v) {
    if (!std::isfinite(v))
      return std::string("null");
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v);
    return std::string(b);
  };
  return "{\"step\": " + std::to_string(m.step) + ", \"flow_time\": " + num(m.flow_time) +
         ", \"loss\": " + num(m.loss) + ", \"test_loss\": " + num(m.test_loss) +
         ", \"accuracy\": " + num(m.accuracy) + ", \"test_accuracy\": " + num(m.test_accuracy) +
         ", \"param_norm\": " + num(m.param_norm) + ", \"grad_norm\": " + num(m.grad_norm) +
         ", \"grad_ratio\": " + num(m.grad_ratio) + ", \"step_size\": " + num(m.step_size) +
         ", \"wall_seconds\": " + num(m.wall_seconds) + ", \"diverging\": " +
         (m.diverging ? "true" : "false") + "}";
}

struct Reporter {
  std::ofstream file;
  bool toStdout = false, tty = isatty(2), warned = false, quiet = ::quiet;
  int64_t total = 0, base = 0;

  static int callback(const rslc_metrics *m, void *self) {
    auto *r = static_cast<Reporter *>(self);
    std::string line = json(*m);
    if (r->toStdout)
      std::printf("%s\n", line.c_str()), std::fflush(stdout);
    if (r->file.is_open())
      r->file << line << "\n" << std::flush;
    if (m->diverging && !r->warned && world.rank == 0) {
      r->warned = true;
      WithColor::warning(errs(), "rslc-train")
          << "the parameter norm grows without bound while the loss stalls (step " << m->step
          << ", |theta| = " << m->param_norm << "): the problem may have no optimum\n";
    }
    if (!r->quiet) {
      double frac = r->total ? double(m->step - r->base) / double(r->total) : 1.0;
      char acc[32] = "";
      if (std::isfinite(m->accuracy))
        std::snprintf(acc, sizeof acc, " acc %.3f", m->accuracy);
      if (r->tty) {
        int w = 30, filled = int(std::min(1.0, frac) * w);
        std::fprintf(stderr, "\r[%s%s] step %lld loss %.6g%s ", std::string(filled, '#').c_str(),
                     std::string(w - filled, '.').c_str(), (long long)m->step, m->loss, acc);
      } else {
        std::fprintf(stderr, "step %lld loss %.6g%s |theta| %.4g |grad| %.4g\n", (long long)m->step,
                     m->loss, acc, m->param_norm, m->grad_norm);
      }
    }
    return interrupted ? 1 : 0;
  }
};

} // namespace

int main(int argc, char **argv) {
  world = dist::init(argc, argv);
  cl::HideUnrelatedOptions(cat);
  if (!cl::ParseCommandLineOptions(argc, argv, "rslc-train: train and run rslc-compiled models\n", &errs()))
    return 2;
  bool ce = lossName == "ce";
  if (!ce && lossName != "mse")
    die("--loss must be mse or ce, not '" + lossName + "'", 2);
  const char *names[] = {"euler", "rk4", "adaptive", "sgd", "adam"};
  int integrator = -1;
  for (int k = 0; k < 5; ++k)
    if (integratorName == names[k])
      integrator = k;
  if (integrator < 0)
    die("--integrator must be euler, rk4, adaptive, sgd or adam, not '" + integratorName + "'", 2);
  if (!(testFraction >= 0 && testFraction < 1))
    die("--test-fraction must be in [0, 1)", 2);
  if (samples < 1 || samples > (int64_t(1) << 32)) // sizes below multiply it by the input size
    die("--samples must be between 1 and 2^32, not " + std::to_string(samples), 2);

  model_api api = loadLibrary(modelPath);
  rslc_model *m;
  if (api.create(modelSeed, &m))
    die(api.last_error(nullptr));
  if (!resumePath.empty() && api.load(m, resumePath.c_str()))
    die(api.last_error(m));
  if (world.size > 1) { // every rank starts from rank 0's parameters
    std::vector<double> theta(api.num_params(m));
    Reals buffer(api.real_size(), theta);
    api.get_params(m, const_cast<void *>(buffer.data()), int64_t(theta.size()));
    if (api.real_size() == 4)
      theta.assign(buffer.f.begin(), buffer.f.end());
    else
      theta = buffer.d;
    dist::broadcast(theta);
    Reals start(api.real_size(), theta);
    api.set_params(m, start.data(), int64_t(theta.size()));
  }

  DataSet ds;
  try {
    ds = loadData(api, m, ce, teacherPath.empty() ? std::string(dataPath) : "", targetPath);
  } catch (const data::DataError &e) {
    die(e.what());
  } catch (const std::bad_alloc &) {
    die("out of memory while reading the data");
  }
  if (!testDataPath.empty() && testFraction > 0)
    die("give --test-data or --test-fraction, not both", 2);
  const int bytes = api.real_size();

  if (!predictPath.empty()) {
    int64_t n = ds.x.rows, nout = api.output_size(m);
    std::vector<double> xs = ds.x.values;
    Reals x(bytes, xs);
    std::vector<float> yf(n * nout);
    std::vector<double> yd(n * nout);
    if (api.forward(m, x.data(), n, bytes == 4 ? (void *)yf.data() : (void *)yd.data()))
      die(api.last_error(m));
    if (bytes == 4)
      yd.assign(yf.begin(), yf.end());
    try {
      if (world.rank == 0)
        data::saveCSV(predictPath, {yd, n, nout});
    } catch (const data::DataError &e) {
      die(e.what());
    }
    dist::finalize();
    return 0;
  }

  // Split (shuffled by --seed), then standardise with the training split.
  std::vector<int64_t> order(ds.x.rows);
  std::iota(order.begin(), order.end(), 0);
  uint64_t key = lift::streamKey(seed, 0x5b117);
  for (int64_t i = ds.x.rows - 1; i > 0 && testFraction > 0; --i)
    std::swap(order[i], order[lift::below(lift::draw(key, i), i + 1)]);
  int64_t nTest = int64_t(std::floor(testFraction * double(ds.x.rows))), nTrain = ds.x.rows - nTest;
  if (nTrain <= 0)
    die("no training samples left after the split", 2);
  std::vector<int64_t> trainRows(order.begin(), order.begin() + nTrain), testRows(order.begin() + nTrain, order.end());
  data::Matrix xtr = take(ds.x, trainRows), ytr = take(ds.y, trainRows);
  data::Matrix xte = take(ds.x, testRows), yte = take(ds.y, testRows);
  if (!testDataPath.empty()) {
    try {
      DataSet test = loadData(api, m, ce, testDataPath, testTargetPath);
      if (test.y.values.empty())
        die(testDataPath + ": the test set needs targets");
      xte = test.x, yte = test.y, nTest = test.x.rows;
    } catch (const data::DataError &e) {
      die(e.what());
    }
  }
  if (standardize)
    for (int64_t c = 0; c < xtr.cols; ++c) {
      double mean = 0, sq = 0;
      for (int64_t r = 0; r < xtr.rows; ++r)
        mean += xtr.at(r, c) / double(xtr.rows);
      for (int64_t r = 0; r < xtr.rows; ++r)
        sq += (xtr.at(r, c) - mean) * (xtr.at(r, c) - mean) / double(xtr.rows);
      double sd = sq > 0 ? std::sqrt(sq) : 1.0;
      for (data::Matrix *mm : {&xtr, &xte})
        for (int64_t r = 0; r < mm->rows; ++r)
          mm->values[r * mm->cols + c] = (mm->values[r * mm->cols + c] - mean) / sd;
    }
  if (world.size > 1) { // rank r trains on rows r, r + size, r + 2 size, ...
    if (nTrain < world.size)
      die(std::to_string(nTrain) + " training samples cannot be shared by " + std::to_string(world.size) +
          " ranks", 2);
    int64_t smallest = nTrain / world.size;
    if (batchSize > 0 && batchSize >= smallest)
      die("--batch-size " + std::to_string(batchSize) + " is not below the " + std::to_string(smallest) +
          " samples of the smallest shard (" + std::to_string(world.size) + " ranks)", 2);
    auto shard = [](const data::Matrix &m) {
      std::vector<int64_t> rows;
      for (int64_t r = world.rank; r < m.rows; r += world.size)
        rows.push_back(r);
      return take(m, rows);
    };
    xtr = shard(xtr), ytr = shard(ytr), xte = shard(xte), yte = shard(yte);
    nTrain = xtr.rows, nTest = xte.rows;
  }
  Reals x(bytes, xtr.values), y(bytes, ytr.values), xt(bytes, xte.values), yt(bytes, yte.values);

  rslc_train_options o;
  api.default_train_options(&o);
  o.integrator = rslc_integrator(integrator);
  o.loss = ce ? RSLC_LOSS_CROSS_ENTROPY : RSLC_LOSS_MSE;
  o.step_size = stepSize, o.momentum = momentum, o.weight_decay = weightDecay;
  o.tolerance = tolerance, o.batch_size = batchSize, o.target_loss = targetLoss;
  o.time_budget = timeBudget, o.shuffle_seed = seed, o.log_every = logEvery;
  Reporter reporter; // metrics are the same on every rank: rank 0 reports
  if (world.rank > 0)
    reporter.quiet = true;
  else if (logPath == "-")
    reporter.toStdout = true;
  else if (!logPath.empty()) {
    reporter.file.open(logPath);
    if (!reporter.file)
      die("cannot write '" + logPath + "'");
  }
  o.callback = Reporter::callback;
  o.user = &reporter;
  if (world.size > 1)
    o.allreduce = dist::allreduceSum;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  // Train in rounds of --checkpoint-every steps; rounds equal one long run.
  rslc_metrics last{};
  int64_t done = 0, round = checkpointEvery > 0 ? checkpointEvery : steps;
  reporter.total = steps;
  int status = 0;
  while (true) {
    o.max_steps = std::min<int64_t>(round, steps - done);
    reporter.base = last.step - done;
    status = api.train(m, &o, x.data(), y.data(), nTrain, nTest ? xt.data() : nullptr,
                       nTest ? yt.data() : nullptr, nTest, &last);
    if (status)
      break;
    done += o.max_steps;
    bool finished = done >= steps || interrupted || (targetLoss > 0 && last.loss < targetLoss) ||
                    (timeBudget > 0 && last.wall_seconds >= timeBudget);
    if (world.rank == 0 && !checkpointPath.empty() && (finished || checkpointEvery > 0) &&
        api.save(m, checkpointPath.c_str()))
      die(api.last_error(m));
    if (finished)
      break;
  }
  if (!reporter.quiet && reporter.tty)
    std::fputc('\n', stderr);
  if (status) // NaN/inf: the last good checkpoint is kept, not overwritten
    die(std::string(api.last_error(m)) +
        (checkpointPath.empty() ? "" : "; the last good checkpoint '" + checkpointPath + "' is kept"));
  if (world.rank == 0 && !exportPath.empty()) {
    int64_t P = api.num_params(m);
    std::vector<float> pf(P);
    std::vector<double> pd(P);
    api.get_params(m, bytes == 4 ? (void *)pf.data() : (void *)pd.data(), P);
    if (bytes == 4)
      pd.assign(pf.begin(), pf.end());
    try {
      data::saveNpy(exportPath, pd, P, 1, bytes == 4);
    } catch (const data::DataError &e) {
      die(e.what());
    }
  }
  if (!reporter.quiet)
    std::fprintf(stderr, "%s: step %lld, loss %.6g%s%s\n", api.blueprint_name(), (long long)last.step,
                 last.loss, std::isfinite(last.test_loss) ? (", test loss " + std::to_string(last.test_loss)).c_str() : "",
                 std::isfinite(last.accuracy) ? (", accuracy " + std::to_string(last.accuracy)).c_str() : "");
  if (!reporter.quiet && world.size > 1)
    std::fprintf(stderr, "%d ranks: each sent %.3f MiB through allreduce (%.1f KiB per step)\n", world.size,
                 double(dist::bytesReduced()) / (1 << 20),
                 last.step ? double(dist::bytesReduced()) / 1024 / double(last.step) : 0.0);
  api.destroy(m);
  dist::finalize();
  return interrupted ? 130 : 0;
}
