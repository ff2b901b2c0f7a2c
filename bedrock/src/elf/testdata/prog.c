/* Source of the ELF test fixtures (see README.md). No libc: _start only. */
static const char msg[] = "hello from the fixture";
/* Pointers that need R_X86_64_RELATIVE in a static-PIE: one in RELRO
   (.data.rel.ro), two in .data, one array in .data for RELR bitmaps. */
const char *const ptr_ro = msg;
const char *ptr_rw = msg + 6;
const char *table[8] = {msg, msg + 1, msg + 2, msg + 3, msg + 4, msg + 5, msg + 6, msg + 7};
__thread long tls_var = 42;
__thread char tls_bss[100];
char bss[8192];

void _start(void) {
    __asm__ volatile("" ::"r"(ptr_ro), "r"(ptr_rw), "r"(table), "r"(&tls_var), "r"(bss));
    for (;;)
        __asm__ volatile("hlt");
}
