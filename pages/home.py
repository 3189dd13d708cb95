"""The overview page."""
import streamlit as st

from ui import router

router.enter()
st.title("LeNet Lab")
st.markdown("""
Handwritten digits with **LeNet-5**, the network Yann LeCun's team built for reading cheques in 1998.

- **Train**: pick a model and a recipe, press Start, and watch the loss fall and the accuracy climb.
  One epoch of LeNet-5 takes a few seconds on a laptop and gets about 99% of the 10,000 test
  digits right (two epochs pass 99%).
- **Draw**: draw a digit with the mouse (or upload a photo of one) and see what the network sees:
  your ink cropped, fitted into 20×20 and centred in 28×28, the way MNIST was made.
- **Explain**: follow the image through the network, 32 → 28 → 14 → 10 → 5, with the formula
  (n + 2p − f)/s + 1 for every layer, and see the feature maps for your own drawing.

The model picker in the sidebar is shared by every page: the three shipped models, your own runs,
and the model being trained right now.
""")
with st.expander("Using LeNet Lab in class"):
    st.markdown("""
1. Open **Explain** first: the shape walk and the calculator show why a 28×28 digit ends up as 400 numbers.
2. Start a run on **Train** and leave it on the projector: the curves move every second, and the
   accuracy climbs within the first epoch. To keep control, start the app with a teacher key
   (see the README, "Running it for a class"). Compare `sigmoid` with `relu`, or `mlp` with
   `lenet5`, under *Compare runs*.
3. While it trains, pick *live* in the sidebar and let students draw on **Draw**: the live model gets
   better as they watch. Try tiny, huge and off-centre digits, and the naive-resize toggle.
""")
