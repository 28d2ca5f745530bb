#include <stdio.h>
int main(void) { puts("loom"); return 0; }
