//! The core WebAssembly module inside an assembled SQL migration: its statements in a data
//! segment, and five small functions that hand them to the database import one by one, in
//! the canonical ABI of the `wasmig:migration@0.1.0` world.
//!
//! Memory layout (addresses from 0; every address is fixed when the module is written):
//!
//! | what | layout |
//! |---|---|
//! | 8 zero bytes | so that no valid pointer is 0 |
//! | `execute`'s return area | `result<u64, db-error>`: 32 bytes, align 8 |
//! | the export's return area | `result<_, string>`: tag, pointer, length |
//! | text | the description, each statement and its error prefix, messages |
//! | statement lists | per list, per statement: SQL pointer and length, prefix pointer and length |
//! | `describe`'s record | description pointer and length, `transactional` |
//! | the irreversible result | `result<_, string>` holding the message |
//! | the table | per direction (forwards, backwards), per dialect (the WIT enum's order): list pointer and count; a count of `u32::MAX` means irreversible |
//! | heap | what `cabi_realloc` hands the host, growing memory as it needs |

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, ImportSection, MemArg, MemorySection,
    MemoryType, Module, TypeSection, ValType,
};

/// The interface the statements go through.
const DATABASE: &str = "wasmig:migration/database@0.1.0";
/// The interface the module exports.
const MIGRATION: &str = "wasmig:migration/migration@0.1.0";

/// One statement to send, and what its error message starts with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Statement {
    /// The SQL, as the database gets it.
    pub sql: String,
    /// Put before the database's message when it fails: where the statement is written.
    pub prefix: String,
}

/// What the module does, for [`encode`].
#[derive(Debug)]
pub(super) struct Plan {
    pub description: String,
    pub transactional: bool,
    /// The statement lists the table points at.
    pub lists: Vec<Vec<Statement>>,
    /// Per direction (forwards, backwards) per dialect: the index of its list in `lists`,
    /// or `None` when the migration cannot go that way on that backend.
    pub table: [[Option<usize>; 3]; 2],
    /// What `backwards` returns where the migration is irreversible.
    pub irreversible: String,
}

/// Data placed at fixed addresses.
#[derive(Default)]
struct Data {
    bytes: Vec<u8>,
}

impl Data {
    fn align(&mut self, to: usize) {
        while !self.bytes.len().is_multiple_of(to) {
            self.bytes.push(0);
        }
    }

    fn here(&self) -> u32 {
        u32::try_from(self.bytes.len()).expect("SQL migrations are far below 4 GiB")
    }

    fn reserve(&mut self, size: usize, align: usize) -> u32 {
        self.align(align);
        let at = self.here();
        self.bytes.resize(self.bytes.len() + size, 0);
        at
    }

    /// Places `text`; its address and length.
    fn text(&mut self, text: &str) -> (u32, u32) {
        let at = self.here();
        self.bytes.extend_from_slice(text.as_bytes());
        (at, u32::try_from(text.len()).expect("SQL migrations are far below 4 GiB"))
    }

    fn words(&mut self, words: &[u32]) -> u32 {
        self.align(4);
        let at = self.here();
        for word in words {
            self.bytes.extend_from_slice(&word.to_le_bytes());
        }
        at
    }
}

/// Where the module keeps what its functions use.
struct Layout {
    execute_return: u32,
    export_return: u32,
    describe: u32,
    irreversible: u32,
    table: u32,
    heap: u32,
}

fn place(plan: &Plan, data: &mut Data) -> Layout {
    data.reserve(8, 8);
    let execute_return = data.reserve(32, 8);
    let export_return = data.reserve(12, 4);
    let description = data.text(&plan.description);
    let message = data.text(&plan.irreversible);
    let texts: Vec<Vec<[u32; 4]>> = plan
        .lists
        .iter()
        .map(|list| {
            list.iter()
                .map(|statement| {
                    let (sql, sql_len) = data.text(&statement.sql);
                    let (prefix, prefix_len) = data.text(&statement.prefix);
                    [sql, sql_len, prefix, prefix_len]
                })
                .collect()
        })
        .collect();
    let lists: Vec<(u32, u32)> = texts
        .iter()
        .map(|entries| {
            let words: Vec<u32> = entries.iter().flatten().copied().collect();
            let count = u32::try_from(entries.len()).expect("fewer than 4 billion statements");
            (data.words(&words), count)
        })
        .collect();
    let describe = data.words(&[description.0, description.1, u32::from(plan.transactional)]);
    let irreversible = data.words(&[1, message.0, message.1]);
    let mut table = Vec::new();
    for direction in &plan.table {
        for list in direction {
            match list {
                Some(index) => table.extend([lists[*index].0, lists[*index].1]),
                None => table.extend([irreversible, u32::MAX]),
            }
        }
    }
    let table = data.words(&table);
    data.align(8);
    let heap = data.here();
    Layout { execute_return, export_return, describe, irreversible, table, heap }
}

const fn at(offset: u64, align: u32) -> MemArg {
    MemArg { offset, align, memory_index: 0 }
}

/// The core module of `plan`, whose bytes depend on nothing else.
pub(super) fn encode(plan: &Plan) -> Vec<u8> {
    let mut data = Data::default();
    let layout = place(plan, &mut data);

    let mut types = TypeSection::new();
    // 0: execute(sql ptr, sql len, params ptr, params len, return area)
    types.ty().function([ValType::I32; 5], []);
    // 1: cabi_realloc(old ptr, old size, align, new size) -> ptr
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    // 2: describe() -> record ptr
    types.ty().function([], [ValType::I32]);
    // 3: forwards/backwards(app ptr, app len, id ptr, id len, dialect, preview) -> result ptr
    types.ty().function([ValType::I32; 6], [ValType::I32]);
    // 4: run(table entry) -> result ptr
    types.ty().function([ValType::I32], [ValType::I32]);

    let mut imports = ImportSection::new();
    imports.import(DATABASE, "execute", EntityType::Function(0));
    const EXECUTE: u32 = 0;
    const REALLOC: u32 = 1;
    const DESCRIBE: u32 = 2;
    const RUN: u32 = 3;
    const FORWARDS: u32 = 4;
    const BACKWARDS: u32 = 5;

    let mut functions = FunctionSection::new();
    for ty in [1, 2, 4, 3, 3] {
        functions.function(ty);
    }

    let pages = u64::from(layout.heap).div_ceil(65536) + 1;
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });

    let mut globals = GlobalSection::new();
    let heap = i32::try_from(layout.heap).expect("below 2 GiB");
    globals.global(
        GlobalType { val_type: ValType::I32, mutable: true, shared: false },
        &ConstExpr::i32_const(heap),
    );
    const HEAP: u32 = 0;

    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("cabi_realloc", ExportKind::Func, REALLOC);
    exports.export(&format!("{MIGRATION}#describe"), ExportKind::Func, DESCRIBE);
    exports.export(&format!("{MIGRATION}#forwards"), ExportKind::Func, FORWARDS);
    exports.export(&format!("{MIGRATION}#backwards"), ExportKind::Func, BACKWARDS);

    let mut code = CodeSection::new();
    code.function(&realloc(HEAP));
    let mut describe = Function::new([]);
    describe.instructions().i32_const(address(layout.describe)).end();
    code.function(&describe);
    code.function(&run(&layout, EXECUTE, REALLOC));
    for direction in 0..2u32 {
        let mut export = Function::new([]);
        export
            .instructions()
            .i32_const(address(layout.table + direction * 24))
            .local_get(4)
            .i32_const(8)
            .i32_mul()
            .i32_add()
            .call(RUN)
            .end();
        code.function(&export);
    }

    let mut segments = DataSection::new();
    segments.active(0, &ConstExpr::i32_const(0), data.bytes.iter().copied());

    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&memories)
        .section(&globals)
        .section(&exports)
        .section(&code)
        .section(&segments);
    module.finish()
}

fn address(at: u32) -> i32 {
    i32::try_from(at).expect("below 2 GiB")
}

/// `cabi_realloc`: a bump allocator that grows memory as it needs and copies what a
/// reallocation held. Nothing is freed: a call's store lives for that call only.
fn realloc(heap: u32) -> Function {
    // Parameters 0..4: old ptr, old size, align, new size; locals: 4 ptr, 5 end.
    let (old, old_size, align, size, ptr, end) = (0, 1, 2, 3, 4, 5);
    let mut f = Function::new([(2, ValType::I32)]);
    let mut i = f.instructions();
    // ptr = (heap + align - 1) & -align
    i.global_get(heap).local_get(align).i32_add().i32_const(1).i32_sub();
    i.i32_const(0).local_get(align).i32_sub().i32_and().local_set(ptr);
    i.local_get(ptr).local_get(size).i32_add().local_tee(end);
    // A size that wraps around the address space traps.
    i.local_get(ptr).i32_lt_u().if_(BlockType::Empty).unreachable().end();
    i.block(BlockType::Empty);
    i.local_get(end).memory_size(0).i32_const(16).i32_shl().i32_le_u().br_if(0);
    i.local_get(end).memory_size(0).i32_const(16).i32_shl().i32_sub();
    i.i32_const(65535).i32_add().i32_const(16).i32_shr_u().memory_grow(0);
    i.i32_const(-1).i32_ne().br_if(0);
    i.unreachable();
    i.end();
    i.local_get(end).global_set(heap);
    i.block(BlockType::Empty);
    i.local_get(old).i32_eqz().br_if(0);
    i.local_get(ptr).local_get(old);
    i.local_get(old_size).local_get(size).local_get(old_size).local_get(size).i32_lt_u().select();
    i.memory_copy(0, 0);
    i.end();
    i.local_get(ptr).end();
    f
}

/// `run(entry)`: sends the statements of the table entry at `entry` in order; on the first
/// that fails, returns its prefix and the database's message as the error.
fn run(layout: &Layout, execute: u32, realloc: u32) -> Function {
    // Parameter 0: entry; locals: 1 list, 2 count, 3 i, 4 statement, 5 message length,
    // 6 buffer.
    let (entry, list, count, index, statement, length, buffer) = (0, 1, 2, 3, 4, 5, 6);
    let (ret, result) = (address(layout.execute_return), address(layout.export_return));
    let mut f = Function::new([(6, ValType::I32)]);
    let mut i = f.instructions();
    i.local_get(entry).i32_load(at(0, 2)).local_set(list);
    i.local_get(entry).i32_load(at(4, 2)).local_set(count);
    i.local_get(count).i32_const(-1).i32_eq().if_(BlockType::Empty);
    i.i32_const(address(layout.irreversible)).return_();
    i.end();
    i.block(BlockType::Empty).loop_(BlockType::Empty);
    i.local_get(index).local_get(count).i32_ge_u().br_if(1);
    i.local_get(list).local_get(index).i32_const(16).i32_mul().i32_add().local_set(statement);
    i.local_get(statement).i32_load(at(0, 2)).local_get(statement).i32_load(at(4, 2));
    i.i32_const(0).i32_const(0).i32_const(ret).call(execute);
    // `result<u64, db-error>`: the tag at 0, the error's message (pointer, length) at 8.
    i.i32_const(ret).i32_load8_u(at(0, 0)).if_(BlockType::Empty);
    i.i32_const(ret).i32_load(at(12, 2)).local_set(length);
    i.i32_const(0).i32_const(0).i32_const(1);
    i.local_get(statement).i32_load(at(12, 2)).local_get(length).i32_add();
    i.call(realloc).local_set(buffer);
    i.local_get(buffer).local_get(statement).i32_load(at(8, 2));
    i.local_get(statement).i32_load(at(12, 2)).memory_copy(0, 0);
    i.local_get(buffer).local_get(statement).i32_load(at(12, 2)).i32_add();
    i.i32_const(ret).i32_load(at(8, 2)).local_get(length).memory_copy(0, 0);
    i.i32_const(result).i32_const(1).i32_store8(at(0, 0));
    i.i32_const(result).local_get(buffer).i32_store(at(4, 2));
    i.i32_const(result).local_get(statement).i32_load(at(12, 2)).local_get(length).i32_add();
    i.i32_store(at(8, 2));
    i.i32_const(result).return_();
    i.end();
    i.local_get(index).i32_const(1).i32_add().local_set(index).br(0);
    i.end().end();
    i.i32_const(result).i32_const(0).i32_store8(at(0, 0));
    i.i32_const(result).end();
    f
}
