//===- ASTDump.h - `--emit=ast`: the syntax tree as an indented outline ---===//
#ifndef RSLC_AST_ASTDUMP_H
#define RSLC_AST_ASTDUMP_H

#include "AST/AST.h"

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace rslc {
void dumpAST(const ast::Program &program, const llvm::SourceMgr &sm, llvm::raw_ostream &os);
} // namespace rslc

#endif
