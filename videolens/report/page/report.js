(function(){
  var v=document.getElementById('player'), tl=document.getElementById('timeline');
  var start=parseFloat(tl.dataset.start)||0, dur=parseFloat(tl.dataset.duration)||1;
  function seek(t){ if(!v||!isFinite(t)) return; try{ v.currentTime=Math.max(0,t); }catch(e){} }
  document.querySelectorAll('[data-t]').forEach(function(el){
    el.addEventListener('click',function(ev){ ev.stopPropagation(); seek(parseFloat(el.dataset.t)); });
  });
  document.querySelectorAll('.track').forEach(function(tr){
    tr.addEventListener('click',function(ev){
      var r=tr.getBoundingClientRect(); seek(start+dur*Math.min(1,Math.max(0,(ev.clientX-r.left)/r.width)));
    });
  });
  var head=document.getElementById('playhead'), segs=[].slice.call(document.querySelectorAll('.seg')),
      cards=[].slice.call(document.querySelectorAll('.card[data-end]'));
  function mark(list,t){ list.forEach(function(el){
      var on=t>=parseFloat(el.dataset.t)&&t<parseFloat(el.dataset.end); el.classList.toggle('now',on); }); }
  document.querySelectorAll('#sources input').forEach(function(inp){
    inp.addEventListener('change',function(){
      var t=v.currentTime, paused=v.paused;
      v.addEventListener('loadedmetadata',function(){ seek(t); if(!paused) v.play(); },{once:true});
      v.src=inp.value;
    });
  });
  // A person's appearances, one after the other: data-ranges holds "start,end;start,end" (numbers only).
  var plan=null, step=0, who=null;
  document.querySelectorAll('.who[data-ranges]').forEach(function(el){
    el.addEventListener('click',function(ev){
      ev.stopPropagation();
      plan=el.dataset.ranges.split(';').map(function(r){ return r.split(',').map(parseFloat); })
        .filter(function(r){ return r.length===2&&isFinite(r[0])&&isFinite(r[1]); });
      if(who) who.classList.remove('now'); who=el; el.classList.add('now');
      step=0; if(plan.length){ seek(plan[0][0]); v.play(); }
    });
  });
  if(v) v.addEventListener('timeupdate',function(){
    if(plan&&step<plan.length&&v.currentTime>=plan[step][1]){
      step++;
      if(step<plan.length){ seek(plan[step][0]); } else { v.pause(); plan=null; if(who) who.classList.remove('now'); }
    }
  });
  if(v) v.addEventListener('timeupdate',function(){
    var t=v.currentTime, f=Math.min(1,Math.max(0,(t-start)/dur)), first=tl.querySelector('.track');
    if(head&&first){ head.style.left=(first.offsetLeft+f*first.offsetWidth)+'px'; }
    mark(segs,t); mark(cards,t);
  });
  function play(t){ seek(t); if(v){ var p=v.play(); if(p&&p.catch) p.catch(function(){}); } }
  var m=/[#&]t=([0-9.]+)/.exec(location.hash);
  if(v&&m){ var t0=parseFloat(m[1]);
    if(v.readyState>=1) play(t0); else v.addEventListener('loadedmetadata',function(){ play(t0); },{once:true}); }
  var data=document.getElementById('search-data');
  if(data) vlSearch(JSON.parse(data.textContent), [], function(e){ play(e.s); });
})();
