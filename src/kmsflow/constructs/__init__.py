"""kmsflow's construct library: keys and key policies (``keys``), cdk-nag rules (``nag``)."""
