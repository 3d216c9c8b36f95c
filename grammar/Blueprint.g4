// The rslc blueprint language (.rsl). Reference: docs/language.md.
// Names that are checked by meaning (activations, map kinds, lift kinds,
// readouts, init laws) are plain identifiers here, so that a misspelling is a
// semantic error with a suggestion, not a syntax error.
grammar Blueprint;

file        : decl* EOF ;

decl        : importDecl | paramDecl | moduleDecl | liftDecl ;

importDecl  : 'import' STRING ';' ;
paramDecl   : 'param' ID '=' expr ';' ;
moduleDecl  : 'module' ID block ;
liftDecl    : 'lift' ID 'of' ID block ;

block       : '{' stmt* '}' ;

stmt        : vertexDecl
            | edgeStmt
            | useStmt
            | forStmt
            | ifStmt
            | sizeStmt
            | edgesStmt
            | settingStmt
            ;

// Vertices: `hidden h[1..L]: 16, relu;` declares h[1] .. h[L], each of
// dimension 16 with a relu activation. Attributes are a shape (`[28, 28]`),
// an expression (the dimension), a word (activation, `nobias`, `prod`, ...)
// or a word with arguments (`softmax(1)`).
vertexDecl  : kind=('input' | 'hidden' | 'output') ref (',' ref)* (':' vertexAttr (',' vertexAttr)*)? ';' ;
vertexAttr  : '[' expr (',' expr)* ']'   # shapeAttr
            | expr                       # exprAttr
            ;

// Edges: `x -> h[1] -> h[2]: linear, share w;` Each side may list several
// vertices (every pair is connected) and index ranges (`h[1..4]`). A map
// may take named arguments: `conv(kernel = 3, padding = 1)`.
edgeStmt    : refList ('->' refList)+ (':' edgeAttr (',' edgeAttr)*)? ';' ;
edgeAttr    : 'share' ref    # shareAttr
            | call           # mapAttr
            ;

useStmt     : 'use' ID 'as' ref ';' ;
forStmt     : 'for' loopVar (',' loopVar)* block ;
loopVar     : ID 'in' expr '..' expr ;
ifStmt      : 'if' expr block ('else' (block | ifStmt))? ;

// Lift statements (inside `lift NAME of MODULE { ... }`).
sizeStmt    : 'size' refList ':' expr ';' ;
edgesStmt   : 'edges' (refList ('->' refList)+)? ':' call ';' ;
// `init: LAW;` is the default law of every weighted edge; `init A -> B: LAW;`
// sets the law of the edges it selects, `init bias REFS: LAW;` that of the
// biases of the vertices it lists (`target` must read `bias`: a plain word
// here, as `bias` is one among the vertex attributes).
settingStmt : key=('readout' | 'init') ':' call ';'
            | key='init' (target=ID refList | refList ('->' refList)+) ':' call ';'
            | key='seed' ':' expr ';'
            ;

refList     : ref (',' ref)* ;
ref         : part ('.' part)* ;
part        : ID ('[' index (',' index)* ']')? ;
index       : expr ('..' expr)? ;

call        : ID ('(' (arg (',' arg)*)? ')')? ;
arg         : (ID '=')? (expr | STRING) ;

expr        : '(' expr ')'                                  # parenExpr
            | ID '(' (expr (',' expr)*)? ')'                # funcExpr
            | op=('-' | '+' | '!') expr                     # unaryExpr
            | lhs=expr op=('*' | '/' | '%') rhs=expr        # binaryExpr
            | lhs=expr op=('+' | '-') rhs=expr              # binaryExpr
            | lhs=expr op=('<' | '<=' | '>' | '>=') rhs=expr  # binaryExpr
            | lhs=expr op=('==' | '!=') rhs=expr            # binaryExpr
            | lhs=expr op='&&' rhs=expr                     # binaryExpr
            | lhs=expr op='||' rhs=expr                     # binaryExpr
            | INT                                           # intExpr
            | FLOAT                                         # floatExpr
            | ID                                            # nameExpr
            ;

INT         : [0-9]+ ;
// A float needs digits after its dot, so `1..L` lexes as INT '..' ID.
FLOAT       : [0-9]+ '.' [0-9]+ EXPONENT? | [0-9]+ EXPONENT ;
fragment EXPONENT : [eE] [+-]? [0-9]+ ;
ID          : [a-zA-Z_] [a-zA-Z_0-9]* ;
STRING      : '"' (~["\\\r\n] | '\\' .)* '"' ;

// Skipped, not kept on a hidden channel: no token object per blank.
LINE_COMMENT  : '//' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
WS          : [ \t\r\n]+ -> skip ;
// Anything else is one bad character: the parser reports it with a caret.
BAD_CHAR    : . ;
