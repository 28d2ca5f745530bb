/*
 * A shared object that is not a plug-in: it exports neither
 * loom_plugin_abi nor loom_plugin_init, and loom must say so.
 */
int loom_test_not_a_plugin(void);

int loom_test_not_a_plugin(void) { return 42; }
