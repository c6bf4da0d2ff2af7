// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // Remote images in customer mail load only when the agent asks (tracking pixels).
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest(".load-remote-images");
    if (!button) return;
    button.closest("details").querySelectorAll("img[data-remote-src]").forEach((img) => {
      img.src = img.dataset.remoteSrc;
      img.removeAttribute("data-remote-src");
    });
    button.remove();
  });
});
