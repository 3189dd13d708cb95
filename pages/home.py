import streamlit as st

from lenet.checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint

st.title("LeNet Lab")
st.write("Handwritten digits with LeNet-5. The Train, Draw and Explain pages are on their way; "
         "meanwhile the `lenet` core works from the command line: `python -m lenet --help`.")
for path in sorted(CHECKPOINT_DIR.glob("*.pt")):
    try:
        accuracy = load_checkpoint(path)["metrics"].get("test_accuracy")
        st.write(f"**{path.stem}**: test accuracy {accuracy:.2%}" if accuracy else f"**{path.stem}**")
    except CheckpointError as err:
        st.warning(str(err))
