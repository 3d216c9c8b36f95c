//===- Printer.h - `--emit=checked`: the checked program as blueprint text ===//
//
// The output is itself a valid blueprint: parameters substituted, families,
// loops and instances expanded, every default made explicit. Checking it
// again prints the same text (tests/Sema/roundtrip.test relies on this).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_IR_PRINTER_H
#define RSLC_IR_PRINTER_H

#include "IR/BaseGraph.h"

#include "llvm/Support/raw_ostream.h"

namespace rslc {
void printChecked(const CheckedProgram &program, llvm::raw_ostream &os);
void printBaseGraph(const BaseGraph &graph, llvm::raw_ostream &os);
void printLift(const LiftSpec &lift, const BaseGraph &graph, llvm::raw_ostream &os);
/// `rslc --list-kinds`: every keyword of core/Kinds.def as Markdown tables
/// (docs/language.md holds this output; tests/Driver/kinds.test compares).
void printKindTables(llvm::raw_ostream &os);
} // namespace rslc

#endif
