/*
 * Unit tests of preload/ew_shim_libc_as.c: the shim's own lookup of the
 * real libc functions finds what dlvsym(RTLD_NEXT) and dlsym(RTLD_NEXT)
 * find, and our own object is the one dladdr names. Here the "shim" is
 * this executable (ew_shim_core is linked in), so the scope is every
 * object after it, as for RTLD_NEXT called from here; under ASan that
 * includes the sanitizer's runtime and its interceptors.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include "ew_shim.h"

extern ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));

/* This executable's scope, as the constructor makes the shim's. */
static void
self_scope(struct ew_shim_scope *s)
{
	const char *name = NULL;

	cr_assert_eq(ew_shim_scope_init(s, _r_debug.r_map, _DYNAMIC, &name), 0);
	cr_assert_not_null(name);
	cr_assert_not_null(s->first, "libc is after this executable");
	cr_assert_not_null(s->last);
}

/* dlvsym / dlsym from here, as the constructor called them before. */
static uintptr_t
by_dl(const char *name, const char *version, int exact)
{
	void *p = NULL;

	if (version != NULL)
		p = dlvsym(RTLD_NEXT, name, version);
	if (p == NULL && !exact)
		p = dlsym(RTLD_NEXT, name);
	return (uintptr_t)p;
}

Test(shim_libc, every_function_is_what_dlvsym_finds)
{
	struct ew_shim_scope s;
	const struct ew_shim_fn_info *fn;
	uintptr_t mine, theirs;
	int f;

	self_scope(&s);
	for (f = 0; f < EW_SHIM_NFNS; f++) {
		fn = &ew_shim_fns[f];
		theirs = by_dl(fn->name, fn->version, fn->exact);
		mine = 0;
		if (fn->version != NULL)
			mine = ew_shim_scope_lookup(&s, fn->name, fn->version);
		if (mine == 0 && !fn->exact)
			mine = ew_shim_scope_lookup(&s, fn->name, NULL);
		cr_assert_eq(mine, theirs, "%s@%s: %#lx, dlvsym %#lx", fn->name,
		    fn->version ? fn->version : "-", (unsigned long)mine,
		    (unsigned long)theirs);
		/* The accessor, through this process's configuration. */
		cr_assert_eq(ew_shim_real(f), theirs, "%s", fn->name);
		cr_assert_eq(ew_shim_real(f), theirs, "%s cached", fn->name);
		/* Everything but the compat versions exists in glibc. */
		if (!fn->exact)
			cr_assert_neq(mine, 0, "%s", fn->name);
	}
}

/* Each name looked up both ways, with and without a version. */
Test(shim_libc, versions_are_matched_exactly)
{
	static const char *const names[] = { "execve", "posix_spawn",
		"posix_spawnp", "system", "popen", "pclose", "getpid",
		"memcpy_not_here" };
	static const char *const versions[] = { NULL, "GLIBC_2.2.5",
		"GLIBC_2.15", "GLIBC_2.34", "GLIBC_0.0", "GLIBC_PRIVATE",
		"libc.so.6" };
	struct ew_shim_scope s;
	size_t i, j;
	uintptr_t mine, theirs;

	self_scope(&s);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(versions) / sizeof(versions[0]); j++) {
			mine = ew_shim_scope_lookup(&s, names[i], versions[j]);
			theirs = versions[j] != NULL
			    ? (uintptr_t)dlvsym(
				  RTLD_NEXT, names[i], versions[j])
			    : (uintptr_t)dlsym(RTLD_NEXT, names[i]);
			cr_assert_eq(mine, theirs, "%s@%s", names[i],
			    versions[j] ? versions[j] : "-");
		}
}

Test(shim_libc, unknown_name_or_version_is_not_found)
{
	struct ew_shim_scope s;

	self_scope(&s);
	cr_assert_eq(ew_shim_scope_lookup(&s, "ew_no_such_function", NULL), 0);
	cr_assert_eq(
	    ew_shim_scope_lookup(&s, "ew_no_such_function", "GLIBC_2.2.5"), 0);
	cr_assert_eq(ew_shim_scope_lookup(&s, "execve", "GLIBC_99.0"), 0);
	cr_assert_eq(ew_shim_scope_lookup(&s, "execve", ""), 0);
	cr_assert_eq(ew_shim_scope_lookup(&s, "", NULL), 0);
	/* A prefix or an extension of a real name is another name. */
	cr_assert_eq(ew_shim_scope_lookup(&s, "execv_", NULL), 0);
	cr_assert_eq(ew_shim_scope_lookup(&s, "execvee", NULL), 0);
}

/* glibc keeps the compat posix_spawn apart from the default one. */
Test(shim_libc, compat_spawn_is_its_own_function)
{
	uintptr_t dflt = ew_shim_real(EW_SHIM_FN_POSIX_SPAWN),
		  compat = ew_shim_real(EW_SHIM_FN_POSIX_SPAWN_COMPAT);

	if (ew_shim_fns[EW_SHIM_FN_POSIX_SPAWN_COMPAT].version == NULL) {
		cr_assert_eq(compat, 0);
		return;
	}
	cr_assert_neq(compat, 0);
	cr_assert_neq(compat, dflt);
	cr_assert_neq(ew_shim_real(EW_SHIM_FN_POSIX_SPAWNP_COMPAT),
	    ew_shim_real(EW_SHIM_FN_POSIX_SPAWNP));
}

/* The object found for a dynamic section is the one dladdr names. */
Test(shim_libc, own_object_is_what_dladdr_names)
{
	struct link_map *lm = NULL;
	const char *name = NULL;
	Dl_info info;
	void *h;
	uintptr_t p;

	/* libc, as a library whose dynamic section this test can reach. */
	p = ew_shim_real(EW_SHIM_FN_EXECVE);
	cr_assert_neq(dladdr((void *)p, &info), 0);
	h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(h);
	cr_assert_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	cr_assert_eq(
	    ew_shim_scope_init(NULL, _r_debug.r_map, lm->l_ld, &name), 0);
	cr_assert_str_eq(name, info.dli_fname);
	dlclose(h);
	/* This executable: the loader's first object, named "". */
	cr_assert_eq(
	    ew_shim_scope_init(NULL, _r_debug.r_map, _DYNAMIC, &name), 0);
	cr_assert_str_eq(name, _r_debug.r_map->l_name);
	/* A dynamic section no object has. */
	cr_assert_eq(
	    ew_shim_scope_init(NULL, _r_debug.r_map, &info, &name), -ENOENT);
}

/*
 * An object loaded after libc (dlopen'd, not preloaded) has no libc to
 * look in after it: the scope is refused, and the constructor resolves
 * with dlvsym instead.
 */
Test(shim_libc, no_libc_after_us_refuses_the_scope)
{
	struct ew_shim_scope s;
	struct link_map *lm = NULL;
	const char *name = NULL;
	Dl_info info;
	void *h;

	cr_assert_neq(
	    dladdr((void *)ew_shim_real(EW_SHIM_FN_EXECVE), &info), 0);
	h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(h);
	cr_assert_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	cr_assert_eq(
	    ew_shim_scope_init(&s, _r_debug.r_map, lm->l_ld, &name), 0);
	cr_assert_null(s.first);
	cr_assert_eq(ew_shim_scope_lookup(&s, "execve", NULL), 0);
	dlclose(h);
}

/*
 * A hostile loader list: an object after ours without a GNU hash table
 * (only DT_HASH, or nothing) makes the scope unusable rather than
 * searched in part.
 */
Test(shim_libc, object_without_gnu_hash_refuses_the_scope)
{
	static ElfW(Dyn) self_dyn[] = { { .d_tag = DT_NULL } };
	static ElfW(Dyn)
	    bare_dyn[] = { { .d_tag = DT_HASH }, { .d_tag = DT_NULL } };
	struct link_map self, bare;
	struct ew_shim_scope s;
	const char *name = NULL;

	memset(&self, 0, sizeof(self));
	memset(&bare, 0, sizeof(bare));
	self.l_name = (char *)"/x/libexecward.so";
	self.l_ld = self_dyn;
	self.l_next = &bare;
	bare.l_name = (char *)"/x/libc.so.6";
	bare.l_ld = bare_dyn;
	bare.l_prev = &self;
	cr_assert_eq(ew_shim_scope_init(&s, &self, self_dyn, &name), 0);
	cr_assert_str_eq(name, "/x/libexecward.so");
	cr_assert_null(s.first);
	/* Nothing after us at all. */
	self.l_next = NULL;
	cr_assert_eq(ew_shim_scope_init(&s, &self, self_dyn, &name), 0);
	cr_assert_null(s.first);
}
