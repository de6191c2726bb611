"""Subtest names read from a prog_tests C file: literals, and names taken from tables."""

from __future__ import annotations

import pytest

from harness import bpf_selftests_scan as scan
from harness import subtest_names as sn

# The shape of tools/testing/selftests/bpf/prog_tests/xdp_bonding.c (6.12).
BONDING = """\
struct bond_test_case {
	char *name;
	int mode;
	int xmit_policy;
};

static struct bond_test_case bond_test_cases[] = {
	{ "xdp_bonding_roundrobin", BOND_MODE_ROUNDROBIN, BOND_XMIT_POLICY_LAYER23, },
	{ "xdp_bonding_activebackup", BOND_MODE_ACTIVEBACKUP, BOND_XMIT_POLICY_LAYER23 },
	/* { "xdp_bonding_commented_out", 0, 0 }, */
	{ "xdp_bonding_xor_layer2", BOND_MODE_XOR, BOND_XMIT_POLICY_LAYER2, },
};

void serial_test_xdp_bonding(void)
{
	int i;

	if (test__start_subtest("xdp_bonding_attach"))
		test_xdp_bonding_attach(&skeletons);
	for (i = 0; i < ARRAY_SIZE(bond_test_cases); i++) {
		struct bond_test_case *test_case = &bond_test_cases[i];

		if (test__start_subtest(test_case->name))
			test_xdp_bonding_with_mode(&skeletons, test_case->mode, test_case->xmit_policy);
	}
	if (test__start_subtest("xdp_bonding_redirect_multi"))
		test_xdp_bonding_redirect_multi(&skeletons);
}
"""


def test_names_from_a_table_of_structs_through_a_pointer_in_call_order() -> None:
    names, dynamic = scan.subtests(BONDING)
    assert names == [
        "xdp_bonding_attach",
        "xdp_bonding_roundrobin",
        "xdp_bonding_activebackup",
        "xdp_bonding_xor_layer2",
        "xdp_bonding_redirect_multi",
    ]
    assert not dynamic


def test_names_from_an_indexed_anonymous_struct_with_designators() -> None:
    code = """
static const struct {
	const char *desc;
	int (*fn)(void);
} unused[] = { { "u", 0 } };

void test_x(void)
{
	static const struct {
		int expect;
		const char *desc;
		char pad[4];
	} tests[] = {
		{ .desc = "one, with a comma", .expect = 1 },
		{ 2, "two {braced}" },
		{ .expect = 3, "three" },
	};

	for (i = 0; i < ARRAY_SIZE(tests); i++)
		if (test__start_subtest(tests[i].desc))
			run(&tests[i]);
}
"""
    assert sn.find(code) == (["one, with a comma", "two {braced}", "three"], False)


def test_names_from_an_array_of_strings() -> None:
    code = """
static const char * const cases[] = { "a", "b", };
void test_x(void) { for (;;) if (test__start_subtest(cases[i])) run(); }
"""
    assert sn.find(code) == (["a", "b"], False)


def test_parameter_pointing_into_the_only_table_with_the_field() -> None:
    code = """
struct t { const char *name; int v; };
static struct t all[] = { { "p", 1 }, { "q", 2 } };
static struct other { int name; } nums[] = { { 1 } };
static void run(struct t *c) { if (test__start_subtest(c->name)) go(c); }
"""
    # With nums' field also called "name", two tables could be what c reads.
    assert sn.find(code) == ([], True)
    assert sn.find(code.replace("int name;", "int value;")) == (["p", "q"], False)


@pytest.mark.parametrize(
    "code",
    [
        # a buffer filled at run time
        'char buf[32]; snprintf(buf, sizeof(buf), "%d", i); test__start_subtest(buf);',
        # a field initialized with a macro
        "struct c { const char *n; }; struct c cs[] = { { NAME } }; test__start_subtest(cs[i].n);",
        # the pointer is assigned something other than a table
        'struct c { const char *n; }; struct c cs[] = { { "a" } };\n'
        "struct c *p = lookup(); test__start_subtest(p->n);",
        # two tables of the same name: which one is read is not known
        'void f(void) { const char *n[] = { "a" }; test__start_subtest(n[i]); }\n'
        'void g(void) { const char *n[] = { "b" }; test__start_subtest(n[i]); }',
        # a struct whose fields cannot be read (a function pointer)
        'struct c { void (*fn)(int); const char *n; }; struct c cs[] = { { 0, "a" } };\n'
        "test__start_subtest(cs[i].n);",
        # a computed call
        "test__start_subtest(name_of(i));",
    ],
)
def test_names_not_in_the_source_are_dynamic(code: str) -> None:
    names, dynamic = sn.find(code)
    assert dynamic
    assert names == []


def test_literal_names_once_and_other_calls_kept() -> None:
    code = (
        'test__start_subtest("a"); test__start_subtest(buf); test__start_subtest("a");\n'
        'test__start_subtest( "b" );'
    )
    assert sn.find(code) == (["a", "b"], True)


def test_call_arguments_with_nested_parentheses() -> None:
    code = 'if (test__start_subtest(fmt(")", x)) && test__start_subtest("y"))'
    assert sn.call_arguments(code) == ['fmt(")", x)', '"y"']


def test_split_top_ignores_commas_in_brackets_strings_and_chars() -> None:
    text = " { \"a,b\", 1 }, f(2, 3), ',', x[1, 2],"
    assert [s.strip() for s in sn.split_top(text)] == [
        '{ "a,b", 1 }',
        "f(2, 3)",
        "','",
        "x[1, 2]",
    ]


def test_struct_fields() -> None:
    assert sn.struct_fields("{ char *name; int a, *b; char buf[16]; unsigned f : 3; }") == (
        "name",
        "a",
        "b",
        "buf",
        "f",
    )
    assert sn.struct_fields("{ int (*fn)(int); }") is None


def test_initialized_field_by_position_and_designator() -> None:
    fields = ("a", "name", "c")
    assert sn.initialized_field('{ 1, "x", 3 }', fields, "name") == "x"
    assert sn.initialized_field('{ .c = 3, .name = "y" }', fields, "name") == "y"
    assert sn.initialized_field('{ .a = 1, "z" }', fields, "name") == "z"  # follows .a
    assert sn.initialized_field("{ 1, NAME }", fields, "name") is None
    assert sn.initialized_field('{ .nope = "w" }', fields, "name") is None
    assert sn.initialized_field('"bare"', fields, "name") is None
